// Package certificate holds the certificate request cert-manager builds for Venafi.
package certificate

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"time"
)

type CustomFieldType int

const (
	CustomFieldPlain CustomFieldType = iota
	CustomFieldOrigin
)

// CustomField is a Venafi custom field set on a request.
type CustomField struct {
	Type  CustomFieldType
	Name  string
	Value string
}

type ChainOption int

const (
	ChainOptionRootLast ChainOption = iota
	ChainOptionRootFirst
	ChainOptionIgnore
)

type CSrOriginOption int

const (
	LocalGeneratedCSR CSrOriginOption = iota
	ServiceGeneratedCSR
	UserProvidedCSR
)

// Request is a certificate request to a Venafi zone.
type Request struct {
	Subject          pkix.Name
	FriendlyName     string
	CsrOrigin        CSrOriginOption
	PickupID         string
	Timeout          time.Duration
	ValidityDuration *time.Duration
	IssuerHint       string
	ChainOption      ChainOption
	CustomFields     []CustomField
	csr              []byte
}

// NewRequest starts a request from a certificate template.
func NewRequest(cert *x509.Certificate) *Request {
	return &Request{Subject: cert.Subject}
}

// SetCSR attaches the PEM-encoded CSR to send.
func (r *Request) SetCSR(csr []byte) error {
	r.csr = append([]byte(nil), csr...)
	return nil
}

// PEMCollection is an issued certificate with its chain.
type PEMCollection struct {
	Certificate string
	PrivateKey  string
	Chain       []string
}
