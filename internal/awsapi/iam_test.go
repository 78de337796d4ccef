package awsapi

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/alba-lb/alba/internal/certs"
)

func TestServerCertificates(t *testing.T) {
	e := newEnv(t)
	body, key, err := certs.Generate(certs.GenerateOptions{CommonName: "localhost", KeyType: certs.KeyECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	up := must[*iam.UploadServerCertificateOutput](t)(e.iam.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{
		ServerCertificateName: aws.String("web-cert"), CertificateBody: aws.String(string(body)), PrivateKey: aws.String(string(key)),
		Tags: []iamtypes.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}}))
	md := up.ServerCertificateMetadata
	if *md.Arn != "arn:aws:iam::000000000000:server-certificate/web-cert" || *md.Path != "/" || !strings.HasPrefix(*md.ServerCertificateId, "ASCA") ||
		md.Expiration == nil || md.UploadDate == nil || len(up.Tags) != 1 {
		t.Fatalf("uploaded: %+v", md)
	}
	_, err = e.iam.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{
		ServerCertificateName: aws.String("web-cert"), CertificateBody: aws.String(string(body)), PrivateKey: aws.String(string(key))})
	if code(err) != "EntityAlreadyExists" {
		t.Errorf("second upload: %v", err)
	}
	_, err = e.iam.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{
		ServerCertificateName: aws.String("junk"), CertificateBody: aws.String("not a pem"), PrivateKey: aws.String(string(key))})
	if code(err) != "MalformedCertificate" {
		t.Errorf("junk upload: %v", err)
	}
	got := must[*iam.GetServerCertificateOutput](t)(e.iam.GetServerCertificate(ctx, &iam.GetServerCertificateInput{ServerCertificateName: aws.String("web-cert")}))
	if *got.ServerCertificate.CertificateBody != string(body) || *got.ServerCertificate.ServerCertificateMetadata.Arn != *md.Arn {
		t.Errorf("get: %+v", got.ServerCertificate)
	}
	// The private key never leaves: look at the raw answer too.
	srv := newEnv(t, func(o *Options) { o.AccessKeyID = "" })
	must[*iam.UploadServerCertificateOutput](t)(srv.iam.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{
		ServerCertificateName: aws.String("c"), CertificateBody: aws.String(string(body)), PrivateKey: aws.String(string(key))}))
	for _, action := range []string{"GetServerCertificate", "ListServerCertificates"} {
		_, raw := post(t, srv.srv.URL, url.Values{"Version": {"2010-05-08"}, "Action": {action}, "ServerCertificateName": {"c"}})
		if strings.Contains(raw, "PRIVATE KEY") || strings.Contains(raw, "PrivateKey") {
			t.Errorf("%s answered the private key:\n%s", action, raw)
		}
	}
	_, err = e.iam.GetServerCertificate(ctx, &iam.GetServerCertificateInput{ServerCertificateName: aws.String("nope")})
	if code(err) != "NoSuchEntity" {
		t.Errorf("get of unknown: %v", err)
	}

	// An HTTPS listener serves it; deleting it is then a conflict.
	tg := createTG(t, e, "tls", types.TargetTypeEnumIp)
	lb := createLB(t, e, "tls")
	l := must[*elbv2.CreateListenerOutput](t)(e.elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn,
		Protocol: types.ProtocolEnumHttps, Port: aws.Int32(18443), DefaultActions: forward(tg.TargetGroupArn),
		Certificates: []types.Certificate{{CertificateArn: md.Arn}}})).Listeners[0]
	if *l.SslPolicy != "ELBSecurityPolicy-2016-08" || *l.Certificates[0].CertificateArn != *md.Arn {
		t.Errorf("https listener: %+v", l)
	}
	second := must[*iam.UploadServerCertificateOutput](t)(e.iam.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{
		ServerCertificateName: aws.String("sni-cert"), Path: aws.String("/sni/"), CertificateBody: aws.String(string(body)), PrivateKey: aws.String(string(key))}))
	must[*elbv2.AddListenerCertificatesOutput](t)(e.elb.AddListenerCertificates(ctx, &elbv2.AddListenerCertificatesInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: second.ServerCertificateMetadata.Arn}}}))
	lc := must[*elbv2.DescribeListenerCertificatesOutput](t)(e.elb.DescribeListenerCertificates(ctx, &elbv2.DescribeListenerCertificatesInput{ListenerArn: l.ListenerArn}))
	if len(lc.Certificates) != 2 {
		t.Errorf("listener certificates: %+v", lc.Certificates)
	}
	for _, c := range lc.Certificates {
		if *c.IsDefault != (*c.CertificateArn == *md.Arn) {
			t.Errorf("IsDefault wrong: %s %v", *c.CertificateArn, *c.IsDefault)
		}
	}
	_, err = e.elb.RemoveListenerCertificates(ctx, &elbv2.RemoveListenerCertificatesInput{ListenerArn: l.ListenerArn, Certificates: []types.Certificate{{CertificateArn: md.Arn}}})
	if code(err) != "OperationNotPermitted" {
		t.Errorf("removing the default certificate: %v", err)
	}
	_, err = e.iam.DeleteServerCertificate(ctx, &iam.DeleteServerCertificateInput{ServerCertificateName: aws.String("web-cert")})
	if code(err) != "DeleteConflict" {
		t.Errorf("delete in use: %v", err)
	}
	// Renaming moves the ARN; the listener follows.
	must[*iam.UpdateServerCertificateOutput](t)(e.iam.UpdateServerCertificate(ctx, &iam.UpdateServerCertificateInput{
		ServerCertificateName: aws.String("web-cert"), NewServerCertificateName: aws.String("web-cert-2")}))
	ls := must[*elbv2.DescribeListenersOutput](t)(e.elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{*l.ListenerArn}}))
	if *ls.Listeners[0].Certificates[0].CertificateArn != "arn:aws:iam::000000000000:server-certificate/web-cert-2" {
		t.Errorf("listener after rename: %+v", ls.Listeners[0].Certificates)
	}
	list := must[*iam.ListServerCertificatesOutput](t)(e.iam.ListServerCertificates(ctx, &iam.ListServerCertificatesInput{PathPrefix: aws.String("/sni/")}))
	if len(list.ServerCertificateMetadataList) != 1 || *list.ServerCertificateMetadataList[0].ServerCertificateName != "sni-cert" || list.IsTruncated {
		t.Errorf("list /sni/: %+v", list)
	}
	var n int
	pg := iam.NewListServerCertificatesPaginator(e.iam, &iam.ListServerCertificatesInput{MaxItems: aws.Int32(1)})
	for pg.HasMorePages() {
		n += len(must[*iam.ListServerCertificatesOutput](t)(pg.NextPage(ctx)).ServerCertificateMetadataList)
	}
	if n != 2 {
		t.Errorf("paged %d certificates", n)
	}
	// Switching the listener to HTTP drops the certificates; then delete.
	must[*elbv2.ModifyListenerOutput](t)(e.elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: l.ListenerArn, Protocol: types.ProtocolEnumHttp}))
	must[*iam.DeleteServerCertificateOutput](t)(e.iam.DeleteServerCertificate(ctx, &iam.DeleteServerCertificateInput{ServerCertificateName: aws.String("web-cert-2")}))
	_, err = e.iam.DeleteServerCertificate(ctx, &iam.DeleteServerCertificateInput{ServerCertificateName: aws.String("web-cert-2")})
	if code(err) != "NoSuchEntity" {
		t.Errorf("second delete: %v", err)
	}
	// IAM's statuses: 404 and 409.
	st, _ := post(t, srv.srv.URL, url.Values{"Version": {"2010-05-08"}, "Action": {"GetServerCertificate"}, "ServerCertificateName": {"nope"}})
	if st != http.StatusNotFound {
		t.Errorf("NoSuchEntity status %d", st)
	}
	resp, err := http.PostForm(srv.srv.URL, url.Values{"Version": {"2010-05-08"}, "Action": {"UploadServerCertificate"},
		"ServerCertificateName": {"c"}, "CertificateBody": {string(body)}, "PrivateKey": {string(key)}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("EntityAlreadyExists status %d", resp.StatusCode)
	}
}
