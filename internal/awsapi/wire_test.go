package awsapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/alba-lb/alba/internal/store"
)

var (
	uuidRe  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	stampRe = regexp.MustCompile(`<CreatedTime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z</CreatedTime>`)
)

func unsigned(o *Options) { o.AccessKeyID = "" }

func TestWireFormat(t *testing.T) {
	e := newEnv(t, unsigned)
	elb := func(action string, kv ...string) url.Values {
		v := url.Values{"Version": {"2015-12-01"}, "Action": {action}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	st, body := post(t, e.srv.URL, elb("CreateTargetGroup", "Name", "wire", "Protocol", "HTTP", "Port", "80", "TargetType", "ip"))
	if st != 200 || !strings.Contains(body, `<CreateTargetGroupResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><CreateTargetGroupResult><TargetGroups><member>`) {
		t.Fatalf("create target group: %d %s", st, body)
	}
	arn := regexp.MustCompile(`<TargetGroupArn>([^<]+)</TargetGroupArn>`).FindStringSubmatch(body)[1]
	if !regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/wire/[0-9a-f]{16}$`).MatchString(arn) {
		t.Errorf("target group ARN %s", arn)
	}
	var id struct {
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal([]byte(body), &id); err != nil || !uuidRe.MatchString(id.RequestID) {
		t.Errorf("request id %q (%v)", id.RequestID, err)
	}
	// Operations without output still have their (empty) Result element.
	st, body = post(t, e.srv.URL, elb("RegisterTargets", "TargetGroupArn", arn, "Targets.member.1.Id", "10.0.0.5"))
	if st != 200 || !strings.Contains(body, "<RegisterTargetsResult/>") {
		t.Errorf("register targets: %d %s", st, body)
	}
	// Timestamps: ISO 8601 with milliseconds and Z.
	_, body = post(t, e.srv.URL, elb("CreateLoadBalancer", "Name", "wire", "Subnets.member.1", "subnet-1", "Subnets.member.2", "subnet-2"))
	if !stampRe.MatchString(body) {
		t.Errorf("created time: %s", body)
	}

	cases := []struct {
		name, body string
		status     int
		want       []string
	}{
		{"unknown action", "Version=2015-12-01&Action=Frobnicate", 400,
			[]string{`<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>InvalidAction</Code>`, "<RequestId>"}},
		{"unknown version", "Version=1999-01-01&Action=DescribeLoadBalancers", 400, []string{"<Code>InvalidAction</Code>"}},
		{"no version", "Action=DescribeLoadBalancers", 400, []string{"<Code>MissingParameter</Code>"}},
		{"no action", "Version=2011-01-01", 400, []string{`xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"`, "<Code>MissingAction</Code>"}},
		{"malformed body", "Version=2015-12-01&Action=%zz", 400, []string{"<Code>MalformedQueryString</Code>"}},
		{"autoscaling without output", "Version=2011-01-01&Action=DescribeAutoScalingGroups", 200,
			[]string{`<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DescribeAutoScalingGroupsResult><AutoScalingGroups/></DescribeAutoScalingGroupsResult>`}},
		{"autoscaling error", "Version=2011-01-01&Action=SetDesiredCapacity&AutoScalingGroupName=nope&DesiredCapacity=1", 400,
			[]string{"<Code>ValidationError</Code>", "AutoScalingGroup name not found"}},
		{"ec2 error envelope", "Version=2016-11-15&Action=DescribeLaunchTemplates&LaunchTemplateName.1=nope", 400,
			[]string{"<Response><Errors><Error><Code>InvalidLaunchTemplateName.NotFoundException</Code>", "</Errors><RequestID>"}},
		{"ec2 success shape", "Version=2016-11-15&Action=DescribeLaunchTemplates", 200,
			[]string{`<DescribeLaunchTemplatesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>`, "<launchTemplates/>"}},
		{"iam namespace", "Version=2010-05-08&Action=ListServerCertificates", 200,
			[]string{`xmlns="https://iam.amazonaws.com/doc/2010-05-08/"`, "<ListServerCertificatesResult><ServerCertificateMetadataList/><IsTruncated>false</IsTruncated>"}},
		{"bad integer", "Version=2015-12-01&Action=DescribeLoadBalancers&PageSize=many", 400, []string{"<Code>ValidationError</Code>"}},
		{"bad boolean", "Version=2011-01-01&Action=DeleteAutoScalingGroup&AutoScalingGroupName=x&ForceDelete=maybe", 400, []string{"<Code>ValidationError</Code>"}},
		{"ec2 bad integer", "Version=2016-11-15&Action=DescribeLaunchTemplates&MaxResults=x", 400, []string{"<Code>InvalidParameterValue</Code>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Post(e.srv.URL, "application/x-www-form-urlencoded", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, c.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/xml" {
				t.Errorf("content type %q", ct)
			}
			for _, w := range c.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("answer lacks %s:\n%s", w, b)
				}
			}
		})
	}
	// Autoscaling operations without output have no Result element.
	post(t, e.srv.URL, url.Values{"Version": {"2016-11-15"}, "Action": {"CreateLaunchTemplate"}, "LaunchTemplateName": {"wire-lt"}})
	st, body = post(t, e.srv.URL, url.Values{"Version": {"2011-01-01"}, "Action": {"CreateAutoScalingGroup"}, "AutoScalingGroupName": {"w"},
		"LaunchTemplate.LaunchTemplateName": {"wire-lt"}, "MinSize": {"0"}, "MaxSize": {"1"}, "VPCZoneIdentifier": {"subnet-1"}})
	if st != 200 || strings.Contains(body, "Result") || !strings.Contains(body, "<CreateAutoScalingGroupResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><ResponseMetadata><RequestId>") {
		t.Errorf("create group: %d %s", st, body)
	}
	// Other methods, and bodies over the limit.
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %v %v", resp, err)
	}
	resp, err := http.Post(e.srv.URL, "application/x-www-form-urlencoded", bytes.NewReader(bytes.Repeat([]byte("a"), MaxBodyBytes+1)))
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: %v %v", resp, err)
	}
	// A query string works as well as a body (GET, as AWS allows).
	resp, err = http.Get(e.srv.URL + "/?Version=2015-12-01&Action=DescribeSSLPolicies&Names.member.1=ELBSecurityPolicy-2016-08")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("GET: %v %v", resp, err)
	}
}

// fixedClock is a clock stopped at t.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                         { return c.t }
func (c fixedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func TestSigV4(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	e := newEnv(t, func(o *Options) { o.Clock = fixedClock{now} })
	body := "Action=DescribeLoadBalancers&Version=2015-12-01"
	sign := func(key, secret string, at time.Time, mod func(*http.Request)) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "elasticloadbalancing", "us-east-1", at); err != nil {
			t.Fatal(err)
		}
		if mod != nil {
			mod(req)
		}
		return req
	}
	cases := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"valid", sign(testKey, testSecret, now, nil), 200, ""},
		{"valid, 14 minutes skew", sign(testKey, testSecret, now.Add(-14*time.Minute), nil), 200, ""},
		{"wrong secret", sign(testKey, "other", now, nil), 403, "SignatureDoesNotMatch"},
		{"unknown access key", sign("AKIDOTHER", testSecret, now, nil), 403, "InvalidClientTokenId"},
		{"expired", sign(testKey, testSecret, now.Add(-20*time.Minute), nil), 403, "SignatureDoesNotMatch"},
		{"from the future", sign(testKey, testSecret, now.Add(20*time.Minute), nil), 403, "SignatureDoesNotMatch"},
		{"body changed", sign(testKey, testSecret, now, func(r *http.Request) {
			b := "Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=1"
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
		}), 403, "SignatureDoesNotMatch"},
		{"signed header changed", sign(testKey, testSecret, now, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }), 403, "SignatureDoesNotMatch"},
		{"no authorization", sign(testKey, testSecret, now, func(r *http.Request) { r.Header.Del("Authorization") }), 403, "MissingAuthenticationToken"},
		{"malformed authorization", sign(testKey, testSecret, now, func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x") }), 403, "IncompleteSignature"},
		{"other algorithm", sign(testKey, testSecret, now, func(r *http.Request) { r.Header.Set("Authorization", "AWS AKID:sig") }), 403, "IncompleteSignature"},
		{"no date", sign(testKey, testSecret, now, func(r *http.Request) { r.Header.Del("X-Amz-Date") }), 403, "IncompleteSignature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(c.req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || !strings.Contains(string(b), "<Code>"+c.code+"</Code>") && c.code != "" {
				t.Errorf("status %d, want %d %s:\n%s", resp.StatusCode, c.status, c.code, b)
			}
			if c.code != "" && !strings.Contains(string(b), `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">`) {
				t.Errorf("not in elbv2's envelope: %s", b)
			}
		})
	}
	// A query string is part of the signature.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/?Version=2015-12-01&Action=DescribeSSLPolicies&Names.member.1=ELBSecurityPolicy-2016-08", nil)
	empty := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}, req, hex.EncodeToString(empty[:]), "elasticloadbalancing", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("signed GET with a query: %v %s", err, b)
	}
	// The SDK's own client with wrong credentials sees the code.
	bad := elbv2.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testKey, "wrong", "")})
	if _, err := bad.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{}); code(err) != "SignatureDoesNotMatch" {
		t.Errorf("SDK with a wrong secret: %v", err)
	}
}

// FuzzForm throws arbitrary bodies at every service: the handler must
// answer well-formed XML with a status below 500 and never panic.
func FuzzForm(f *testing.F) {
	st, err := store.OpenBolt(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	h := NewHandler(Options{Store: st})
	versions := []string{"2015-12-01", "2011-01-01", "2016-11-15", "2010-05-08", "1999-01-01"}
	seeds := []string{
		"Action=CreateTargetGroup&Name=f&Protocol=HTTP&Port=80&TargetType=ip",
		"Action=CreateLoadBalancer&Name=f&Subnets.member.1=a&Subnets.member.2=b",
		"Action=CreateListener&LoadBalancerArn=arn%3Aaws%3Aelasticloadbalancing%3Aus-east-1%3A0%3Aloadbalancer%2Fapp%2Ff%2F1&Protocol=HTTP&Port=1&DefaultActions.member.1.Type=forward&DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn=x",
		"Action=RegisterTargets&TargetGroupArn=x&Targets.member.1.Id=10.0.0.1&Targets.member.99999999999.Port=-1",
		"Action=ModifyTargetGroupAttributes&TargetGroupArn=x&Attributes.member.1.Key=stickiness.enabled&Attributes.member.1.Value=true",
		"Action=CreateRule&ListenerArn=x&Priority=1&Conditions.member.1.Field=path-pattern&Conditions.member.1.Values.member.1=%2F*&Actions.member.1.Type=fixed-response&Actions.member.1.FixedResponseConfig.StatusCode=200",
		"Action=DescribeTargetGroups&PageSize=2&Marker=AAAA",
		"Action=CreateAutoScalingGroup&AutoScalingGroupName=g&LaunchTemplate.LaunchTemplateName=lt&MinSize=0&MaxSize=1&VPCZoneIdentifier=a%2Cb",
		"Action=PutScalingPolicy&AutoScalingGroupName=g&PolicyName=p&PolicyType=TargetTrackingScaling&TargetTrackingConfiguration.TargetValue=NaN",
		"Action=UpdateAutoScalingGroup&AutoScalingGroupName=g&MinSize=99999999999999999999",
		"Action=CreateLaunchTemplate&LaunchTemplateName=abc&LaunchTemplateData.UserData=%%%&LaunchTemplateData.TagSpecification.1.ResourceType=instance&LaunchTemplateData.TagSpecification.1.Tag.1.Key=k",
		"Action=DescribeLaunchTemplateVersions&LaunchTemplateName=abc&LaunchTemplateVersion.1=%24Latest&MinVersion=x",
		"Action=DeleteLaunchTemplateVersions&LaunchTemplateId=lt-1&LaunchTemplateVersion.1=-5",
		"Action=UploadServerCertificate&ServerCertificateName=c&CertificateBody=-----BEGIN%20CERTIFICATE-----&PrivateKey=x",
		"Action=ListServerCertificates&MaxItems=0",
		"Action=%zz&%%%",
		"Action=DescribeTags&ResourceArns.member.1=arn%3Aaws%3Aelasticloadbalancing%3A%3A%3Alistener-rule%2Fx",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, svc uint8, body string) {
		form := "Version=" + versions[int(svc)%len(versions)] + "&" + body
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form)))
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer within 10 s to %q", form)
		}
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q:\n%s", rec.Code, form, rec.Body.String())
		}
		dec := xml.NewDecoder(rec.Body)
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("answer to %q is not XML: %v", form, err)
			}
		}
	})
}

func TestJSONProtocolRefused(t *testing.T) {
	e := newEnv(t, unsigned)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL, strings.NewReader(`{"Certificate":"eA=="}`))
	req.Header.Set("X-Amz-Target", "CertificateManager.ImportCertificate")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"__type":"UnknownOperationException"`) {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
}
