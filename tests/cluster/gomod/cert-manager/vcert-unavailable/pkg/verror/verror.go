// Package verror holds the errors cert-manager tells apart.
package verror

import "errors"

// ServerUnavailableError marks a Venafi server that could not be reached.
var ServerUnavailableError = errors.New("server unavailable") //nolint:revive,staticcheck // the name cert-manager uses.
