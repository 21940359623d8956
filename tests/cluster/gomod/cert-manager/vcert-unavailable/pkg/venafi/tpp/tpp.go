// Package tpp is the tpp connector; in this build it never connects.
package tpp

import (
	"github.com/Venafi/vcert/v5/pkg/certificate"
	"github.com/Venafi/vcert/v5/pkg/endpoint"
)

// Connector is a tpp connection.
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

// ErrCertNotFound means TPP has no such certificate.
type ErrCertNotFound struct{ error }

// OauthRefreshAccessTokenResponse is TPP's answer to a token request.
type OauthRefreshAccessTokenResponse struct {
	Access_token  string //nolint:revive // the field name cert-manager uses.
	Refresh_token string //nolint:revive // the field name cert-manager uses.
	Expires       int
}

func (*Connector) ResetCertificate(*certificate.Request, bool) error { return endpoint.ErrUnavailable }

func (*Connector) VerifyAccessToken(*endpoint.Authentication) (any, error) {
	return nil, endpoint.ErrUnavailable
}

func (*Connector) GetRefreshToken(*endpoint.Authentication) (OauthRefreshAccessTokenResponse, error) {
	return OauthRefreshAccessTokenResponse{}, endpoint.ErrUnavailable
}
