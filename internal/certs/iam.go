package certs

import (
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

var (
	nameRe = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	// pathRe is IAM's pattern: "/" or "/" printable ASCII "/".
	pathRe = regexp.MustCompile(`^(/|/[\x21-\x7F]+/)$`)
)

// ValidateName checks a server certificate name: 1-128 characters of
// letters, digits and _+=,.@- (IAM's [\w+=,.@-]+).
func ValidateName(name string) error {
	if !nameRe.MatchString(name) {
		return model.Errorf(CodeValidation, "The server certificate name '%s' is not valid: it must be 1-128 characters of letters, digits and _+=,.@-", model.Quote(name))
	}
	return nil
}

// ValidatePath checks a server certificate path: "/" or text of printable
// characters that starts and ends with "/", at most 512 characters.
func ValidatePath(path string) error {
	if len(path) > 512 || !pathRe.MatchString(path) {
		return model.Errorf(CodeValidation, "The path '%s' is not valid: it must start and end with / (e.g. / or /company/servercerts/), at most 512 printable characters without spaces", model.Quote(path))
	}
	return nil
}

// NewID makes a server certificate ID: ASCA and 17 upper-case letters and
// digits, as IAM's look.
func NewID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 17)
	rand.Read(b)
	for i := range b {
		// 256 is not a multiple of 36; the slight bias is harmless in an ID.
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "ASCA" + string(b)
}

// ARN is a server certificate's ARN; it includes the path, so renaming or
// moving a certificate changes it.
func ARN(path, name string) string {
	return fmt.Sprintf("arn:aws:iam::%s:server-certificate%s%s", model.Account, path, name)
}

// Upload checks and stores a server certificate, as IAM's
// UploadServerCertificate: an empty path means "/"; names are unique
// whatever the path (EntityAlreadyExists). The returned record holds the
// private key: answer API calls with Redacted. source is the front that
// manages it (model.SourceFile or model.SourceAPI).
func Upload(tx store.Tx, name, path, body, key, chain string, tags []model.Tag, source string, now time.Time) (*model.Certificate, error) {
	if path == "" {
		path = "/"
	}
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if err := ValidatePath(path); err != nil {
		return nil, err
	}
	if err := model.ValidateTags(tags, "LimitExceeded", CodeValidation); err != nil {
		return nil, err
	}
	if _, err := tx.Get(model.KindCertificate, name); err == nil {
		return nil, alreadyExists(name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	p, err := Parse(body, key, chain, now)
	if err != nil {
		return nil, err
	}
	c := &model.Certificate{
		ARN:        ARN(path, name),
		Name:       name,
		Path:       path,
		ID:         NewID(),
		Body:       body,
		Chain:      chain,
		PrivateKey: key,
		UploadDate: now.UTC(),
		Expiration: p.NotAfter.UTC(),
		Tags:       slices.Clone(tags),
		Source:     source,
	}
	if err := store.PutJSON(tx, model.KindCertificate, name, c); err != nil {
		return nil, err
	}
	return c, nil
}

func alreadyExists(name string) error {
	return model.Errorf(CodeAlreadyExists, "The server certificate with name %s already exists", model.Quote(name))
}

// Get returns the named certificate (with its key), or NoSuchEntity.
func Get(tx store.Tx, name string) (*model.Certificate, error) {
	c, err := store.GetJSON[model.Certificate](tx, model.KindCertificate, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, model.Errorf(CodeNoSuchEntity, "The server certificate with name %s cannot be found", model.Quote(name))
	}
	return c, err
}

// ByARN returns the certificate with arn (with its key), or
// CertificateNotFound: the code ELB answers when a listener names an
// unknown certificate.
func ByARN(tx store.Tx, arn string) (*model.Certificate, error) {
	all, err := store.ListJSON[model.Certificate](tx, model.KindCertificate)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.ARN == arn {
			return c, nil
		}
	}
	return nil, model.Errorf(CodeNotFound, "Certificate '%s' not found", model.Quote(arn))
}

// List returns the certificates whose path starts with pathPrefix (empty
// means "/", i.e. all), by name.
func List(tx store.Tx, pathPrefix string) ([]*model.Certificate, error) {
	if pathPrefix == "" {
		pathPrefix = "/"
	}
	if !strings.HasPrefix(pathPrefix, "/") || len(pathPrefix) > 512 {
		return nil, model.Errorf(CodeValidation, "The path prefix '%s' is not valid: it must start with /", model.Quote(pathPrefix))
	}
	all, err := store.ListJSON[model.Certificate](tx, model.KindCertificate)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, c := range all {
		if strings.HasPrefix(c.Path, pathPrefix) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *model.Certificate) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Update renames and/or moves a certificate, as IAM's
// UpdateServerCertificate; an empty newName or newPath keeps the current
// one. The ARN follows the new name and path, so listeners that name the
// old ARN must be updated by the caller.
func Update(tx store.Tx, name, newName, newPath string) (*model.Certificate, error) {
	c, err := Get(tx, name)
	if err != nil {
		return nil, err
	}
	if newName == "" {
		newName = c.Name
	}
	if newPath == "" {
		newPath = c.Path
	}
	if err := ValidateName(newName); err != nil {
		return nil, err
	}
	if err := ValidatePath(newPath); err != nil {
		return nil, err
	}
	if newName != name {
		if _, err := tx.Get(model.KindCertificate, newName); err == nil {
			return nil, alreadyExists(newName)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err := tx.Delete(model.KindCertificate, name); err != nil {
			return nil, err
		}
	}
	c.Name, c.Path, c.ARN = newName, newPath, ARN(newPath, newName)
	if err := store.PutJSON(tx, model.KindCertificate, newName, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Delete removes a certificate, as IAM's DeleteServerCertificate:
// NoSuchEntity when missing, DeleteConflict while inUse (may be nil) says a
// listener still serves it.
func Delete(tx store.Tx, name string, inUse func(arn string) bool) error {
	c, err := Get(tx, name)
	if err != nil {
		return err
	}
	if inUse != nil && inUse(c.ARN) {
		return model.Errorf(CodeDeleteConflict, "The server certificate %s is in use by a load balancer listener; remove it from the listener first", name)
	}
	return tx.Delete(model.KindCertificate, name)
}

// Replace rotates a certificate's material in place: same name, ID and
// ARN, so the HTTPS listeners that serve it pick up the new certificate
// for new handshakes without being changed. The upload date becomes now.
func Replace(tx store.Tx, name, body, key, chain string, now time.Time) (*model.Certificate, error) {
	c, err := Get(tx, name)
	if err != nil {
		return nil, err
	}
	p, err := Parse(body, key, chain, now)
	if err != nil {
		return nil, err
	}
	c.Body, c.PrivateKey, c.Chain = body, key, chain
	c.UploadDate, c.Expiration = now.UTC(), p.NotAfter.UTC()
	if err := store.PutJSON(tx, model.KindCertificate, name, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Redacted returns a copy of c without its private key: what every API,
// console and describe path hands out.
func Redacted(c *model.Certificate) model.Certificate {
	out := *c
	out.PrivateKey = ""
	out.Tags = slices.Clone(c.Tags)
	return out
}
