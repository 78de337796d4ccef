package awsapi

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

type decodeKV struct {
	Key   string `q:"Key,req"`
	Value string `q:"Value"`
}

type decodeNested struct {
	Name  string   `q:"Name"`
	Items []string `q:"Items"`
}

type decodePaging struct {
	Marker string `q:"Marker"`
}

type decodeInput struct {
	decodePaging
	Name     string            `q:"Name,req,max=8"`
	Opt      *string           `q:"Opt"`
	Port     *int              `q:"Port,min=1,max=65535"`
	Count    int               `q:"Count"`
	On       *bool             `q:"On"`
	Ratio    *float64          `q:"Ratio"`
	Names    []string          `q:"Names"`
	ARNs     []string          `q:"Arns,arn"`
	Pairs    []decodeKV        `q:"Pairs"`
	Nested   decodeNested      `q:"Nested"`
	Maybe    *decodeNested     `q:"Maybe"`
	Attrs    map[string]string `q:"Attrs"`
	Resource string            `q:"ResourceArn,arn"`
}

func decodeForm(t *testing.T, ec2 bool, raw string, dst any) error {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := newForm(v, ec2)
	if err != nil {
		return err
	}
	return (&call{f: f}).decode(dst)
}

func ptr[T any](v T) *T { return &v }

func TestDecode(t *testing.T) {
	var in decodeInput
	err := decodeForm(t, false, "Name=n&Opt=&Port=80&Count=3&On=TRUE&Ratio=0.5&Marker=m"+
		"&Names.member.1=a&Names.member.2=b&Arns.member.1=arn:aws:elasticloadbalancing:us-east-1:0:loadbalancer/app/x/1"+
		"&Pairs.member.1.Key=k&Pairs.member.1.Value=v&Pairs.member.2.Key=k2"+
		"&Nested.Name=x&Nested.Items.member.1=i&Attrs.entry.1.key=a&Attrs.entry.1.value=b", &in)
	if err != nil {
		t.Fatal(err)
	}
	want := decodeInput{decodePaging: decodePaging{"m"}, Name: "n", Opt: ptr(""), Port: ptr(80), Count: 3, On: ptr(true), Ratio: ptr(0.5),
		Names: []string{"a", "b"}, ARNs: []string{"arn:aws:elasticloadbalancing:us-east-1:0:loadbalancer/app/x/1"},
		Pairs: []decodeKV{{"k", "v"}, {"k2", ""}}, Nested: decodeNested{"x", []string{"i"}}, Attrs: map[string]string{"a": "b"}}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", in, want)
	}
	// A list sent empty (Name=) is present but empty; one not sent is nil.
	var empty decodeInput
	if err := decodeForm(t, false, "Name=n&Names=&Maybe.Name=y", &empty); err != nil {
		t.Fatal(err)
	}
	if empty.Names == nil || len(empty.Names) != 0 || empty.Pairs != nil || empty.Maybe == nil || empty.Maybe.Name != "y" {
		t.Errorf("presence: %+v", empty)
	}
	// EC2's lists are flat.
	var flat struct {
		IDs  []string   `q:"LaunchTemplateId"`
		Tags []decodeKV `q:"Tag"`
	}
	if err := decodeForm(t, true, "LaunchTemplateId.1=lt-1&LaunchTemplateId.2=lt-2&Tag.1.Key=k", &flat); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(flat.IDs, []string{"lt-1", "lt-2"}) || len(flat.Tags) != 1 || flat.Tags[0].Key != "k" {
		t.Errorf("flat: %+v", flat)
	}
}

func TestDecodeErrors(t *testing.T) {
	long := strings.Repeat("x", 10000)
	cases := []struct {
		name, form string
		ec2        bool
		code, msg  string
	}{
		{"required missing", "Port=1", false, "ValidationError", "Value null at 'name' failed to satisfy constraint: Member must not be null"},
		{"required empty", "Name=", false, "ValidationError", "Value null at 'name'"},
		{"ec2 required", "Port=1", true, "MissingParameter", "The request must contain the parameter Name"},
		{"nested required", "Name=n&Pairs.member.1.Value=v", false, "ValidationError", "Value null at 'pairs.member.1.Key'"},
		{"too long", "Name=123456789", false, "ValidationError", "Member must have length between 0 and 8"},
		{"below range", "Name=n&Port=0", false, "ValidationError", "Value '0' at 'port' failed to satisfy constraint: Member must have value between 1 and 65535"},
		{"ec2 range", "Name=n&Port=70000", true, "InvalidParameterValue", "Value (70000) for parameter Port is invalid"},
		{"not an integer", "Name=n&Count=many", false, "ValidationError", "Value 'many' for parameter Count is invalid: it must be an integer"},
		{"not a boolean", "Name=n&On=maybe", false, "ValidationError", "it must be true or false"},
		{"not a number", "Name=n&Ratio=NaN", false, "ValidationError", "it must be a number"},
		{"ec2 bad value", "Name=n&Count=x", true, "InvalidParameterValue", "it must be an integer"},
		{"member 0", "Name=n&Names.member.0=a", false, "ValidationError", "Parameter Names.member.0 is out of range"},
		{"member huge", "Name=n&Names.member.999999999=a", false, "ValidationError", "Parameter Names.member.999999999 is out of range"},
		{"member overflow", "Name=n&Names.member.99999999999999999999999=a", false, "ValidationError", "is out of range"},
		{"member leading zero", "Name=n&Names.member.01=a", false, "ValidationError", "Parameter Names.member.01 is out of range"},
		{"member gap", "Name=n&Names.member.1=a&Names.member.3=c", false, "ValidationError", "Parameter Names.member.2 is missing"},
		{"nested gap", "Name=n&Pairs.member.1.Key=k&Pairs.member.1.Sub.member.2=x", false, "ValidationError", "Parameter Pairs.member.1.Sub.member.1 is missing"},
		{"ec2 gap", "Name=n&LaunchTemplateId.2=x", true, "InvalidParameterValue", "Parameter LaunchTemplateId.1 is missing"},
		{"not an ARN", "Name=n&ResourceArn=not-an-arn", false, "ValidationError", "Value 'not-an-arn' for parameter ResourceArn is not a valid ARN"},
		{"short ARN", "Name=n&ResourceArn=arn:aws:nope", false, "ValidationError", "parameter ResourceArn is not a valid ARN"},
		{"ARN in a list", "Name=n&Arns.member.1=arn:aws:nope", false, "ValidationError", "parameter Arns.member.1 is not a valid ARN"},
		{"long bad value", "Name=n&Count=" + long, false, "ValidationError", "for parameter Count"},
		{"long bad ARN", "Name=n&ResourceArn=" + long, false, "ValidationError", "is not a valid ARN"},
		{"long name", "Name=n&" + long + "=1", false, "ValidationError", "is too long"},
		{"deep name", "Name=n&" + strings.Repeat("a.", 16) + "b=1", false, "ValidationError", "is too long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var in decodeInput
			err := decodeForm(t, c.ec2, c.form, &in)
			ae, ok := asAPIError(err)
			if err == nil || !ok {
				t.Fatalf("error %v, want %s", err, c.code)
			}
			code := ae.Code
			if c.ec2 && code == "ValidationError" { // writeError's renaming
				code = "InvalidParameterValue"
			}
			if code != c.code || !strings.Contains(ae.Message, c.msg) {
				t.Errorf("%s: %s, want %s containing %q", c.name, ae.Code, ae.Message, c.msg)
			}
			if len(ae.Message) > 300 {
				t.Errorf("message of %d bytes quotes a long value whole", len(ae.Message))
			}
		})
	}
}

func TestEncode(t *testing.T) {
	type inner struct {
		Name string
		When *isoTime `xml:",omitempty"`
	}
	type out struct {
		List  memberList[inner]
		Strs  memberList[string]
		Empty memberList[string]
		EC2   itemList[string] `xml:"ec2"`
		Opt   string           `xml:",omitempty"`
		Txt   string
		Value double
		At    isoTime
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.FixedZone("x", 3600))
	b, err := marshal("R", out{List: members([]inner{{"a&b", stampPtr(&at)}}), Strs: members([]string{"s"}), EC2: items([]string{"i"}),
		Value: 50, At: isoTime(at)})
	if err != nil {
		t.Fatal(err)
	}
	want := "<R><List><member><Name>a&amp;b</Name><When>2026-01-02T02:04:05.006Z</When></member></List><Strs><member>s</member></Strs>" +
		"<Empty/><ec2><item>i</item></ec2><Txt/><Value>50.0</Value><At>2026-01-02T02:04:05.006Z</At></R>"
	if string(b) != want {
		t.Errorf("encoded\n%s\nwant\n%s", b, want)
	}
	if got := string(collapseEmpty([]byte("<a></a><b>x</b><c></d><e></e"))); got != "<a/><b>x</b><c></d><e></e" {
		t.Errorf("collapse: %s", got)
	}
}
