package strictjson

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// decodeAny reads a whole document with the strict parser into the values
// encoding/json's Unmarshal into any gives.
func decodeAny(data []byte) (any, error) {
	p, err := New(data)
	if err != nil {
		return nil, err
	}
	var value func() (any, error)
	value = func() (any, error) {
		switch c := p.Peek(); {
		case c == '{':
			m := map[string]any{}
			return m, p.Object(func(key string) error {
				v, err := value()
				m[key] = v
				return err
			})
		case c == '[':
			a := []any{}
			err := p.Array(func(int) error {
				v, err := value()
				a = append(a, v)
				return err
			})
			return a, err
		case c == '"':
			return p.Str()
		case c == 't' || c == 'f':
			return p.Boolean()
		case c == 'n':
			if p.Null() {
				return nil, nil
			}
		}
		raw, _, err := p.Number()
		if err != nil {
			return nil, err
		}
		return strconv.ParseFloat(raw, 64)
	}
	v, err := value()
	if err == nil {
		err = p.End()
	}
	return v, err
}

// checkAgainstStdlib: whatever the strict parser accepts, encoding/json accepts with
// the same value (the strict one only refuses more).
func checkAgainstStdlib(t *testing.T, doc []byte) (accepted bool) {
	got, err := decodeAny(doc)
	if err != nil {
		return false
	}
	var want any
	require.NoError(t, json.Unmarshal(doc, &want), "strict accepted %q", doc)
	require.Equal(t, want, got, "%q", doc)
	return true
}

var jsonCases = []struct {
	doc string
	ok  bool
}{
	{`{}`, true}, {` [ ] `, true}, {`{"a":[1,-0,0.5,1e3,-2E-2,true,false,null,"x"]}`, true},
	{`"\u00e9\ud83d\ude00\n\t\"\\\/\b\f\r"`, true}, {`"é😀"`, true}, {`{"a":{"b":{"c":[]}}}`, true},
	{`{"a":1,"a":2}`, false}, {`{"a":{"b":1,"b":1}}`, false}, {`[{"x":0,"x":0}]`, false},
	{"\"\xff\"", false}, {`"\ud800"`, false}, {`"\udc00\ud800"`, false}, {`"\ud800\u0041"`, false},
	{`01`, false}, {`1.`, false}, {`.5`, false}, {`1e`, false}, {`+1`, false}, {`-`, false}, {`NaN`, false},
	{`Infinity`, false}, {`[1,]`, false}, {`{"a":1,}`, false}, {`{a:1}`, false}, {`{"a" 1}`, false},
	{`"a` + "\n" + `"`, false}, {`"\x"`, false}, {`"\u12"`, false}, {`nul`, false}, {`truex`, false},
	{`{} {}`, false}, {"{}\x00", false}, {``, false}, {`1e999`, false},
}

// TestStrictJSON: the strict parser agrees with encoding/json on what it accepts and
// refuses duplicates, invalid UTF-8, lone surrogates and bad grammar.
func TestStrictJSON(t *testing.T) {
	for _, tc := range jsonCases {
		require.Equal(t, tc.ok, checkAgainstStdlib(t, []byte(tc.doc)), "%q", tc.doc)
	}
	deep := []byte(`[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]`)
	_, err := decodeAny(deep)
	require.ErrorContains(t, err, "nested deeper than 16 levels")
	_, err = decodeAny([]byte(`{"a":1,"a":2}`))
	require.ErrorContains(t, err, `key "a" appears twice`)
}

// FuzzStrictJSON holds the strict parser to encoding/json: anything it accepts,
// encoding/json accepts with the same value.
func FuzzStrictJSON(f *testing.F) {
	for _, tc := range jsonCases {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkAgainstStdlib(t, doc)
	})
}
