// Package util holds request constants cert-manager sets.
package util

// IssuerHintAllIssuers lets the zone pick any of its issuers.
const IssuerHintAllIssuers = "ALL_ISSUERS"
