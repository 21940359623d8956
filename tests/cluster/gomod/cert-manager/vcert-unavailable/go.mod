// Stands in for github.com/Venafi/vcert/v5 v5.13.7, which cert-manager v1.21.2 requires but
// the Go module proxy does not serve ("403 Forbidden: This module version is not available",
// for v5.13.0 to v5.13.7; v5.12.x lacks the NGTS connector cert-manager uses). It provides the
// API cert-manager's Venafi issuer compiles against; every connection fails with ErrUnavailable.
module github.com/Venafi/vcert/v5

go 1.26.0
