package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/alba-lb/alba/internal/certs"
)

// certOptions are the flags of `alba cert`.
type certOptions struct {
	name    string
	sans    []string
	days    int
	keyType string
	outCert string
	outKey  string
	force   bool
}

func certCmd() *cobra.Command {
	var o certOptions
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Make a private key and a self-signed certificate for an HTTPS listener",
		Long: `Make a private key and a self-signed certificate in one step, instead of the
tutorial's four openssl steps (genrsa, rsa -pubout, req, x509 -signkey).
The key is written with mode 0600 and never printed. Upload the pair to
Alba as to IAM with aws iam upload-server-certificate, as printed at the end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCert(cmd.OutOrStdout(), o, time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "localhost", "common name (CN) of the certificate: a DNS name or an IP address; also a SAN")
	f.StringSliceVar(&o.sans, "san", nil, "extra subject alternative name: a DNS name (wildcards as *.example.com) or an IP address; repeatable or comma-separated")
	f.IntVar(&o.days, "days", 365, "days of validity")
	f.StringVar(&o.keyType, "key-type", certs.KeyRSA2048, "key type: rsa2048 or ecdsa-p256")
	f.StringVar(&o.outCert, "out-cert", "certificate.crt", "file to write the certificate to (PEM)")
	f.StringVar(&o.outKey, "out-key", "private.pem", "file to write the private key to (PEM, mode 0600)")
	f.BoolVar(&o.force, "force", false, "overwrite existing files")
	return cmd
}

// runCert checks the options, makes the pair and writes it. Every check
// runs before any file is touched, so a refused run leaves nothing behind.
func runCert(out io.Writer, o certOptions, now time.Time) error {
	gen, err := o.generateOptions(now)
	if err != nil {
		return err
	}
	if o.outCert == "" || o.outKey == "" {
		return errors.New("--out-cert and --out-key must name files")
	}
	if samePath(o.outCert, o.outKey) {
		return fmt.Errorf("--out-cert and --out-key both name %s; the certificate and the key need separate files", o.outCert)
	}
	if !o.force {
		var existing []string
		for _, p := range []string{o.outKey, o.outCert} {
			if _, err := os.Lstat(p); err == nil {
				existing = append(existing, p)
			}
		}
		switch len(existing) {
		case 1:
			return fmt.Errorf("%s already exists; pass --force to overwrite it, or choose another file with --out-cert or --out-key", existing[0])
		case 2:
			return fmt.Errorf("%s and %s already exist; pass --force to overwrite them, or choose other files with --out-cert and --out-key", existing[0], existing[1])
		}
	}

	certPEM, keyPEM, err := certs.Generate(gen)
	if err != nil {
		return err
	}
	// Parse what was made: it is what Alba will check on upload, and it
	// gives the facts printed below.
	p, err := certs.Parse(string(certPEM), string(keyPEM), "", now)
	if err != nil {
		return fmt.Errorf("the generated certificate does not pass Alba's own check: %v", err)
	}
	if err := writeFiles(o.outKey, keyPEM, 0o600, o.outCert, certPEM, 0o644); err != nil {
		return err
	}

	leaf := p.Certificate.Leaf
	var sans []string
	for _, n := range leaf.DNSNames {
		sans = append(sans, "DNS:"+n)
	}
	for _, ip := range leaf.IPAddresses {
		sans = append(sans, "IP:"+ip.String())
	}
	fmt.Fprintf(out, "Wrote the private key to %s (%s, mode 0600; keep it secret)\n", o.outKey, p.KeyAlgorithm)
	fmt.Fprintf(out, "Wrote the self-signed certificate to %s (mode 0644)\n", o.outCert)
	fmt.Fprintf(out, "  Subject:   %s\n", leaf.Subject.String())
	fmt.Fprintf(out, "  SANs:      %s\n", strings.Join(sans, ", "))
	fmt.Fprintf(out, "  Expires:   %s (%d days)\n", leaf.NotAfter.UTC().Format("2006-01-02 15:04:05 MST"), gen.Days)
	fmt.Fprintf(out, "  Key type:  %s\n", p.KeyAlgorithm)
	fmt.Fprintf(out, "\nNext, upload it to Alba as to IAM, then name its ARN in an HTTPS listener:\n")
	fmt.Fprintf(out, "  aws iam upload-server-certificate --server-certificate-name %s --certificate-body %s --private-key %s --endpoint-url http://127.0.0.1:9080\n",
		uploadName(gen.CommonName), shellQuote("file://"+o.outCert), shellQuote("file://"+o.outKey))
	fmt.Fprintf(out, "Clients must trust the certificate, e.g. curl --cacert %s https://%s:<listener port>/\n", shellQuote(o.outCert), urlHost(gen))
	return nil
}

// generateOptions turns the flags into Generate's options, with errors
// that name the flag.
func (o certOptions) generateOptions(now time.Time) (certs.GenerateOptions, error) {
	g := certs.GenerateOptions{CommonName: o.name, Days: o.days, KeyType: o.keyType, Now: now}
	if o.name == "" {
		return g, errors.New("--name must not be empty")
	}
	if net.ParseIP(o.name) == nil && !certs.ValidHostname(o.name) {
		return g, fmt.Errorf("--name %q is neither a DNS name nor an IP address", o.name)
	}
	if len(o.name) > 64 {
		return g, fmt.Errorf("--name %q is longer than 64 characters, the limit of a certificate's common name; put long names in --san", o.name)
	}
	for _, s := range o.sans {
		s = strings.TrimSpace(s)
		if ip := net.ParseIP(s); ip != nil {
			g.IPAddresses = append(g.IPAddresses, ip)
		} else if certs.ValidHostname(s) {
			g.DNSNames = append(g.DNSNames, s)
		} else {
			return g, fmt.Errorf("--san %q is neither a DNS name nor an IP address", s)
		}
	}
	// 100 years is far beyond any use and keeps the date arithmetic sane.
	if o.days < 1 || o.days > 36500 {
		return g, fmt.Errorf("--days must be between 1 and 36500, not %d", o.days)
	}
	switch o.keyType {
	case certs.KeyRSA2048, certs.KeyECDSAP256:
	default:
		return g, fmt.Errorf("--key-type must be %s or %s, not %q", certs.KeyRSA2048, certs.KeyECDSAP256, o.keyType)
	}
	return g, nil
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return aa == bb
}

// writeFiles writes both files through temporary files in their
// directories, renamed into place only when both are complete: a failed
// run never leaves half a pair, and the key is 0600 from its first byte
// (os.CreateTemp's mode) whatever the umask.
func writeFiles(keyPath string, key []byte, keyMode fs.FileMode, certPath string, cert []byte, certMode fs.FileMode) error {
	keyTmp, err := writeTemp(keyPath, key, keyMode, "private key")
	if err != nil {
		return err
	}
	certTmp, err := writeTemp(certPath, cert, certMode, "certificate")
	if err != nil {
		os.Remove(keyTmp)
		return err
	}
	if err := os.Rename(keyTmp, keyPath); err != nil {
		os.Remove(keyTmp)
		os.Remove(certTmp)
		return fmt.Errorf("cannot write the private key to %s: %v", keyPath, plainErr(err))
	}
	if err := os.Rename(certTmp, certPath); err != nil {
		os.Remove(certTmp)
		return fmt.Errorf("cannot write the certificate to %s: %v", certPath, plainErr(err))
	}
	return nil
}

func writeTemp(path string, data []byte, mode fs.FileMode, what string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".alba-cert-*")
	if err != nil {
		return "", fmt.Errorf("cannot write the %s to %s: %v", what, path, plainErr(err))
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("cannot write the %s to %s: %v", what, path, plainErr(err))
	}
	return f.Name(), nil
}

// plainErr drops the operation and temporary file name from an *os.PathError
// ("open /dir/.alba-cert-123: permission denied" → "permission denied"),
// since the message already names the file the user asked for.
func plainErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

var uploadNameBad = regexp.MustCompile(`[^\w+=,.@-]`)

// uploadName suggests an IAM certificate name from the CN: IAM names allow
// fewer characters than host names (no '*', no ':').
func uploadName(cn string) string {
	n := strings.ReplaceAll(cn, "*", "wildcard")
	n = uploadNameBad.ReplaceAllString(n, "-")
	if len(n) > 128 {
		n = n[:128]
	}
	return n
}

// urlHost is the host to show in the curl hint.
func urlHost(g certs.GenerateOptions) string {
	h := g.CommonName
	if strings.HasPrefix(h, "*.") {
		h = "www" + h[1:]
	}
	if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
		return "[" + h + "]"
	}
	return h
}

var shellSafe = regexp.MustCompile(`^[\w@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it, so the printed
// command can be pasted as is.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
