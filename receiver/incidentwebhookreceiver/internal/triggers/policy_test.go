package triggers

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseLabelRule(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String() of the parsed rule
		wantErr bool
	}{
		{in: "severity=~critical|page", want: `severity=~"critical|page"`},
		{in: `{severity="critical", team!="sandbox"}`, want: `severity="critical",team!="sandbox"`},
		{in: ` team = db , env !~ "dev|test" `, want: `team="db",env!~"dev|test"`},
		{in: `re=~"a{1,2}"`, want: `re=~"a{1,2}"`},
		{in: `q="say \"hi\", then go"`, want: `q="say \"hi\", then go"`},
		{in: `empty=`, want: `empty=""`},
		{in: "", wantErr: true},
		{in: "{}", wantErr: true},
		{in: "{a=b", wantErr: true},
		{in: "severity", wantErr: true},
		{in: "=critical", wantErr: true},
		{in: "a=b,", wantErr: true},
		{in: `a="b" c="d"`, wantErr: true},
		{in: `a="unterminated`, wantErr: true},
		{in: "a=~(", wantErr: true},
		{in: "a!b", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseLabelRule(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, r.String())
			again, err := ParseLabelRule(r.String())
			require.NoError(t, err)
			assert.Equal(t, r.String(), again.String(), "String() output parses back")
		})
	}
}

func TestLabelMatcher(t *testing.T) {
	labels := map[string]string{"severity": "critical", "team": "db"}
	tests := []struct {
		rule string
		want bool
	}{
		{`severity="critical"`, true},
		{`severity="Critical"`, false},
		{`severity!="critical"`, false},
		{`absent!="x"`, true},
		{`absent=""`, true},
		{`severity=~"crit"`, false}, // anchored
		{`severity=~"crit.*"`, true},
		{`severity!~"warn.*"`, true},
		{`absent=~".+"`, false},
		{`severity="critical",team="db"`, true},
		{`severity="critical",team="web"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			r, err := ParseLabelRule(tt.rule)
			require.NoError(t, err)
			assert.Equal(t, tt.want, r.Matches(labels))
		})
	}
}

func TestLabelMatcherLiteral(t *testing.T) {
	// Built without NewLabelMatcher: still correct, and never panics.
	m := LabelMatcher{Name: "a", Type: MatchRegexp, Value: "x|y"}
	assert.True(t, m.Matches(map[string]string{"a": "y"}))
	assert.False(t, LabelMatcher{Name: "a", Type: MatchRegexp, Value: "("}.Matches(map[string]string{"a": "("}))
	assert.False(t, LabelMatcher{Name: "a", Type: "<>", Value: "x"}.Matches(map[string]string{"a": "x"}))
	_, err := NewLabelMatcher("a", "<>", "x")
	require.Error(t, err)
	_, err = NewLabelMatcher("", MatchEqual, "x")
	require.Error(t, err)
}

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	require.NoError(t, p.Validate())
	tests := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"critical", map[string]string{"severity": "critical"}, true},
		{"CRITICAL", map[string]string{"severity": "CRITICAL"}, true},
		{"page", map[string]string{"severity": "page"}, true},
		{"warning", map[string]string{"severity": "warning"}, false},
		{"pager is not page", map[string]string{"severity": "pager"}, false},
		{"no labels", nil, false},
		{"sloth", map[string]string{"sloth_slo": "requests-availability", "sloth_severity": "ticket"}, true},
		{"pyrra", map[string]string{"slo": "cart-http-errors", "severity": "warning"}, true},
		{"empty slo label", map[string]string{"slo": ""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, p.Opens(tt.labels))
		})
	}
	assert.Equal(t, DefaultIncidentIDLabel, (&Policy{}).idLabel())
	assert.Equal(t, DefaultScopeLabels(), (&Policy{}).scopeLabels())
	assert.False(t, (&Policy{}).Opens(map[string]string{"severity": "critical"}))
}

func TestPolicyValidate(t *testing.T) {
	bad := &Policy{OpenOn: []LabelRule{{Matchers: []LabelMatcher{{Name: "a", Type: MatchRegexp, Value: "("}}}}}
	require.ErrorContains(t, bad.Validate(), "open_on[0]")
	bad = &Policy{ScopeLabels: []ScopeLabel{{Label: "service"}}}
	require.ErrorContains(t, bad.Validate(), "scope_labels[0]")
}
