// Package vcert replaces the Venafi client library in the local cert-manager build: the
// Venafi issuer compiles, but a Venafi Issuer or ClusterIssuer reports ErrUnavailable
// instead of connecting. No other issuer uses this module.
package vcert

import (
	"net/http"

	"github.com/Venafi/vcert/v5/pkg/endpoint"
)

// Config carries the fields cert-manager sets when it builds a Venafi client.
type Config struct {
	ConnectorType   endpoint.ConnectorType
	BaseUrl         string //nolint:revive // the field name cert-manager uses.
	Zone            string
	LogVerbose      bool
	ConnectionTrust string
	Credentials     *endpoint.Authentication
	Client          *http.Client
}

// NewClient always fails: the real connectors are not part of this build.
func NewClient(*Config, ...any) (endpoint.Connector, error) {
	return nil, endpoint.ErrUnavailable
}
