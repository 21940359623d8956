// Package endpoint holds the connector interface and the types cert-manager exchanges with it.
package endpoint

import (
	"errors"

	"github.com/Venafi/vcert/v5/pkg/certificate"
)

// ErrUnavailable is what every Venafi operation returns in this build.
var ErrUnavailable = errors.New("the Venafi issuer is not available in this cert-manager build: " +
	"its client library github.com/Venafi/vcert/v5 v5.13.7 is not served by the Go module proxy")

// ConnectorType names the Venafi product a connector talks to.
type ConnectorType int

const (
	ConnectorTypeUndefined ConnectorType = iota
	ConnectorTypeCloud
	ConnectorTypeTPP
	ConnectorTypeNGTS
)

// Authentication holds the credentials of any connector type.
type Authentication struct {
	User         string
	Password     string
	APIKey       string
	AccessToken  string
	RefreshToken string
	ClientId     string //nolint:revive // the field name cert-manager uses.
	ClientSecret string
	Scope        string
	TokenURL     string
}

// Connector is the subset of a Venafi connection cert-manager uses.
type Connector interface {
	GetType() ConnectorType
	Ping() error
	ReadZoneConfiguration() (*ZoneConfiguration, error)
	RequestCertificate(req *certificate.Request) (requestID string, err error)
	RetrieveCertificate(req *certificate.Request) (*certificate.PEMCollection, error)
}

// ZoneConfiguration is a zone's defaults and policy.
type ZoneConfiguration struct{}

// UpdateCertificateRequest would apply the zone's defaults; no zone is ever read here.
func (*ZoneConfiguration) UpdateCertificateRequest(*certificate.Request) {}

// ValidateCertificateRequest would check a request against the zone's policy.
func (*ZoneConfiguration) ValidateCertificateRequest(*certificate.Request) error {
	return ErrUnavailable
}

// ErrCertificatePending means the certificate is not issued yet.
type ErrCertificatePending struct {
	CertificateID string
	Status        string
}

func (e ErrCertificatePending) Error() string {
	return "certificate " + e.CertificateID + " is still pending: " + e.Status
}

// ErrRetrieveCertificateTimeout means waiting for the certificate timed out.
type ErrRetrieveCertificateTimeout struct {
	CertificateID string
}

func (e ErrRetrieveCertificateTimeout) Error() string {
	return "timed out retrieving certificate " + e.CertificateID
}
