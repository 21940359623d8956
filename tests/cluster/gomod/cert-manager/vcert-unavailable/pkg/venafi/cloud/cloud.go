// Package cloud is the cloud connector; in this build it never connects.
package cloud

import (
	"github.com/Venafi/vcert/v5/pkg/certificate"
	"github.com/Venafi/vcert/v5/pkg/endpoint"
)

// Connector is a cloud connection.
type Connector struct{}

var _ endpoint.Connector = (*Connector)(nil)

func (*Connector) GetType() endpoint.ConnectorType { return endpoint.ConnectorTypeUndefined }

func (*Connector) Ping() error { return endpoint.ErrUnavailable }

func (*Connector) Authenticate(*endpoint.Authentication) error { return endpoint.ErrUnavailable }

func (*Connector) ReadZoneConfiguration() (*endpoint.ZoneConfiguration, error) {
	return nil, endpoint.ErrUnavailable
}

func (*Connector) RequestCertificate(*certificate.Request) (string, error) {
	return "", endpoint.ErrUnavailable
}

func (*Connector) RetrieveCertificate(*certificate.Request) (*certificate.PEMCollection, error) {
	return nil, endpoint.ErrUnavailable
}
