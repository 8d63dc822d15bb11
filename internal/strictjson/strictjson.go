// Package strictjson reads JSON documents that decide what a loader reads and
// allocates (a safetensors header, config.json, model.safetensors.index.json) more
// strictly than encoding/json: exact, unique keys, valid UTF-8, bounded nesting. The
// safetensors package and package mla share it.
package strictjson

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Parser reads one JSON document held in memory, value by value: the caller asks
// for the value it expects next (Object, Array, Str, ...). It exists because encoding/json is
// too lenient for files that decide what is read and allocated: it matches struct
// fields case-insensitively, keeps the last of duplicate keys, and replaces invalid
// UTF-8 and lone surrogates with U+FFFD, so two readers (or two versions of this one)
// could see different tensors in the same file. Here keys match exactly, a duplicate
// key at any level is an error, the text must be valid UTF-8, and nesting and keys per
// object are bounded, so a hostile document cannot recurse deeply or build huge maps.
type Parser struct {
	data  []byte
	pos   int
	depth int
	keys  [MaxDepth + 1]keySet // per nesting level, reused from object to object
}

// keySet holds the keys of the object being read, to catch duplicates: a short list
// for the few keys most objects have, a map past that.
type keySet struct {
	few  []string
	many map[string]struct{}
}

func (s *keySet) add(key string) error {
	if s.many == nil {
		if slices.Contains(s.few, key) {
			return fmt.Errorf("key %q appears twice", key)
		}
		if len(s.few) < 16 {
			s.few = append(s.few, key)
			return nil
		}
		s.many = make(map[string]struct{}, 64)
		for _, k := range s.few {
			s.many[k] = struct{}{}
		}
	}
	if _, dup := s.many[key]; dup {
		return fmt.Errorf("key %q appears twice", key)
	}
	if len(s.many) >= MaxObjectKeys {
		return fmt.Errorf("more than %d keys in one object", MaxObjectKeys)
	}
	s.many[key] = struct{}{}
	return nil
}

// enter starts a nested object or array at p.pos, returning its level's key set.
func (p *Parser) enter() (*keySet, error) {
	if p.depth >= MaxDepth {
		return nil, p.errorf("nested deeper than %d levels", MaxDepth)
	}
	p.depth++
	p.pos++
	s := &p.keys[p.depth]
	clear(s.few)
	s.few, s.many = s.few[:0], nil
	return s, nil
}

// How scanString returns the string.
const (
	strDiscard = iota // validate only
	strCopy           // a new string
	strAlias          // a string sharing p.data's bytes where there is no escape, for keys used only while parsing
)

const (
	// MaxDepth bounds nesting. The files read here nest at most four levels
	// (config.json's quantization_config.config_groups.group_0.weights); a bound keeps
	// recursion and the per-level duplicate-key maps small.
	MaxDepth = 16
	// MaxObjectKeys bounds the keys of one object whose duplicates are tracked in
	// a map (about 40 bytes a key): an object may still be large, not unboundedly so.
	// Objects whose keys the caller stores itself (tensor names, the index's
	// weight_map) have their own, documented limits.
	MaxObjectKeys = 1 << 17
)

// New checks that data is valid UTF-8 before anything else, as the
// reference safetensors reader does: encoding/json would silently decode invalid
// bytes as U+FFFD.
func New(data []byte) (*Parser, error) {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, fmt.Errorf("not valid UTF-8 (first invalid byte at offset %d)", off)
	}
	return &Parser{data: data}, nil
}

// SyntaxError is a document that is not the JSON expected at Offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("at byte %d: %s", e.Offset, e.Msg) }

func (p *Parser) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *Parser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// Peek returns the next non-space byte, or 0 at the end.
func (p *Parser) Peek() byte {
	p.ws()
	if p.pos >= len(p.data) {
		return 0
	}
	return p.data[p.pos]
}

// Kind names the value starting at the next byte, for errors.
func (p *Parser) Kind() string {
	c := p.Peek()
	if p.pos >= len(p.data) {
		return "the end of the text"
	}
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	}
	return fmt.Sprintf("%q", p.data[p.pos])
}

func (p *Parser) expect(c byte) error {
	if p.Peek() != c {
		return p.errorf("want %q, found %s", c, p.Kind())
	}
	p.pos++
	return nil
}

// End checks that only white space follows the document.
func (p *Parser) End() error {
	if p.ws(); p.pos < len(p.data) {
		return p.errorf("data after the JSON value")
	}
	return nil
}

// Object reads an object, calling member for each key; member must consume the value.
// Duplicate keys are errors.
func (p *Parser) Object(member func(key string) error) error {
	return p.readObject(true, strCopy, member)
}

// Members is Object without the duplicate check, for callers that store every key
// themselves and so see duplicates anyway.
func (p *Parser) Members(member func(key string) error) error {
	return p.readObject(false, strCopy, member)
}

// readObject reads an object, keys scanned in mode (strAlias only when no key
// outlives the object), checking for duplicates when dedup.
func (p *Parser) readObject(dedup bool, mode int, member func(key string) error) error {
	if p.Peek() != '{' {
		return p.errorf("want an object, found %s", p.Kind())
	}
	set, err := p.enter()
	if err != nil {
		return err
	}
	if p.Peek() == '}' {
		p.pos++
		p.depth--
		return nil
	}
	for {
		if p.Peek() != '"' {
			return p.errorf("want a string key, found %s", p.Kind())
		}
		key, err := p.scanString(mode)
		if err != nil {
			return err
		}
		if dedup {
			if err := set.add(key); err != nil {
				return err
			}
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch p.Peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			return nil
		default:
			return p.errorf("want ',' or '}' after the value of %q, found %s", key, p.Kind())
		}
	}
}

// Array reads an array, calling elem with each index; elem must consume the value.
func (p *Parser) Array(elem func(i int) error) error {
	if p.Peek() != '[' {
		return p.errorf("want an array, found %s", p.Kind())
	}
	if _, err := p.enter(); err != nil {
		return err
	}
	if p.Peek() == ']' {
		p.pos++
		p.depth--
		return nil
	}
	for i := 0; ; i++ {
		if err := elem(i); err != nil {
			return err
		}
		switch p.Peek() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return nil
		default:
			return p.errorf("want ',' or ']' in an array, found %s", p.Kind())
		}
	}
}

// Str reads a string value.
func (p *Parser) Str() (string, error) { return p.scanString(strCopy) }

// scanString reads a string and returns it as mode says: skipping a long string
// validates it without copying it.
func (p *Parser) scanString(mode int) (string, error) {
	keep := mode != strDiscard
	if p.Peek() != '"' {
		return "", p.errorf("want a string, found %s", p.Kind())
	}
	start := p.pos + 1
	i := start
	for ; i < len(p.data); i++ {
		c := p.data[i]
		if c == '"' {
			p.pos = i + 1
			switch {
			case mode == strCopy:
				return string(p.data[start:i]), nil
			case mode == strAlias && i > start:
				return unsafe.String(&p.data[start], i-start), nil
			}
			return "", nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	// Escapes: decode into a builder from where the plain run stopped.
	var b strings.Builder
	if keep {
		b.Write(p.data[start:i])
	}
	for i < len(p.data) {
		c := p.data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return b.String(), nil
		case c < 0x20:
			p.pos = i
			return "", p.errorf("control character %#02x in a string (must be escaped)", c)
		case c != '\\':
			if keep {
				b.WriteByte(c)
			}
			i++
			continue
		}
		if i+1 >= len(p.data) {
			break
		}
		i++
		var r rune
		switch e := p.data[i]; e {
		case '"', '\\', '/':
			r = rune(e)
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			var ok bool
			r, ok = hex4(p.data[i+1:])
			if !ok {
				p.pos = i
				return "", p.errorf(`bad \u escape`)
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A surrogate must be a high one followed by an escaped low one; a lone
				// half is not a character (encoding/json would make it U+FFFD).
				var r2 rune
				ok = r < 0xdc00 && i+6 < len(p.data) && p.data[i+1] == '\\' && p.data[i+2] == 'u'
				if ok {
					r2, ok = hex4(p.data[i+3:])
				}
				if ok {
					r = utf16.DecodeRune(r, r2)
					ok = r != utf8.RuneError
				}
				if !ok {
					p.pos = i
					return "", p.errorf(`lone UTF-16 surrogate in a \u escape`)
				}
				i += 6
			}
		default:
			p.pos = i
			return "", p.errorf("bad escape \\%c", e)
		}
		if keep {
			b.WriteRune(r)
		}
		i++
	}
	p.pos = len(p.data)
	return "", p.errorf("unterminated string")
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Number reads a number token as written, checking the JSON grammar
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; integer reports whether it has
// neither fraction nor exponent.
func (p *Parser) Number() (raw string, integer bool, err error) {
	start, integer, err := p.skipNumber()
	if err != nil {
		return "", false, err
	}
	return string(p.data[start:p.pos]), integer, nil
}

// skipNumber consumes a number, returning where it starts; skipping the many numbers
// of a hostile array allocates nothing.
func (p *Parser) skipNumber() (start int, integer bool, err error) {
	p.ws()
	d := p.data
	start = p.pos
	i := start
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch j := digits(d, i); {
	case i < len(d) && d[i] == '0':
		i++
	case j == i:
		return 0, false, p.errorf("want a number, found %s", p.Kind())
	default:
		i = j
	}
	integer = true
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			p.pos = j
			return 0, false, p.errorf("malformed number")
		}
		i, integer = j, false
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			p.pos = j
			return 0, false, p.errorf("malformed number")
		}
		i, integer = j, false
	}
	p.pos = i
	return start, integer, nil
}

// digits returns the index after the run of ASCII digits at d[i:].
func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// Integer reads an integer that fits an int.
func (p *Parser) Integer() (int, error) {
	raw, isInt, err := p.Number()
	if err != nil {
		return 0, err
	}
	if !isInt {
		return 0, fmt.Errorf("%s is not an integer", raw)
	}
	v, err := strconv.ParseInt(raw, 10, 0)
	if err != nil {
		return 0, fmt.Errorf("%s is out of range", raw)
	}
	return int(v), nil
}

// Unsigned reads a non-negative integer that fits a uint64.
func (p *Parser) Unsigned() (uint64, error) {
	raw, isInt, err := p.Number()
	if err != nil {
		return 0, err
	}
	if !isInt || raw[0] == '-' {
		return 0, fmt.Errorf("%s is not a non-negative integer", raw)
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is out of range", raw)
	}
	return v, nil
}

// Float reads a finite number (JSON has no NaN or infinity; a literal beyond float64
// is refused rather than read as one).
func (p *Parser) Float() (float64, error) {
	raw, _, err := p.Number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is out of the range of float64", raw)
	}
	return v, nil
}

// literal consumes the word w if it comes next.
func (p *Parser) literal(w string) bool {
	p.ws()
	if len(p.data)-p.pos < len(w) || string(p.data[p.pos:p.pos+len(w)]) != w {
		return false
	}
	p.pos += len(w)
	return true
}

// Null consumes a null if it comes next.
func (p *Parser) Null() bool { return p.literal("null") }

// Boolean reads true or false.
func (p *Parser) Boolean() (bool, error) {
	switch {
	case p.literal("true"):
		return true, nil
	case p.literal("false"):
		return false, nil
	}
	return false, p.errorf("want true or false, found %s", p.Kind())
}

// Skip consumes any value, checking it as strictly as the values it reads. It is
// the path a hostile document's bulk takes, so it allocates nothing for arrays,
// numbers, strings or objects of unescaped keys.
func (p *Parser) Skip() error {
	switch c := p.Peek(); {
	case c == '{':
		return p.skipObject()
	case c == '[':
		return p.skipArray()
	case c == '"':
		_, err := p.scanString(strDiscard)
		return err
	case c == 't' || c == 'f':
		_, err := p.Boolean()
		return err
	case c == 'n':
		if !p.Null() {
			return p.errorf("want a value, found %s", p.Kind())
		}
		return nil
	default:
		_, _, err := p.skipNumber()
		return err
	}
}

// skipObject and skipArray skip a container as strictly as Object and Array read one.
// The key set dies with the object, so keys may share p.data.
func (p *Parser) skipObject() error {
	return p.readObject(true, strAlias, func(string) error { return p.Skip() })
}

func (p *Parser) skipArray() error {
	return p.Array(func(int) error { return p.Skip() })
}

// The Opt readers read an optional value: null is absent and leaves dst alone, as
// encoding/json did.

// opt reads null, or a value with read into *dst.
func opt[T any](p *Parser, read func() (T, error), dst *T) error {
	if p.Null() {
		return nil
	}
	v, err := read()
	if err == nil {
		*dst = v
	}
	return err
}

// optPtr reads null, or a value with read pointed to by *dst.
func optPtr[T any](p *Parser, read func() (T, error), dst **T) error {
	return opt(p, func() (*T, error) { v, err := read(); return &v, err }, dst)
}

// OptInt reads an integer or null into *dst.
func (p *Parser) OptInt(dst *int) error { return opt(p, p.Integer, dst) }

// OptIntPtr reads an integer or null, pointed to by *dst.
func (p *Parser) OptIntPtr(dst **int) error { return optPtr(p, p.Integer, dst) }

// OptFloatPtr reads a number or null, pointed to by *dst.
func (p *Parser) OptFloatPtr(dst **float64) error { return optPtr(p, p.Float, dst) }

// OptString reads a string or null into *dst.
func (p *Parser) OptString(dst *string) error { return opt(p, p.Str, dst) }

// OptBool reads a boolean or null into *dst.
func (p *Parser) OptBool(dst *bool) error { return opt(p, p.Boolean, dst) }

// UnknownKey handles a key the reader does not use (known may include keys it
// ignores): a key that differs from a known one only in case is an error
// (encoding/json, and so earlier versions of mla, read it as the known key), any other
// is skipped.
func (p *Parser) UnknownKey(key string, known ...string) error {
	for _, k := range known {
		if key != k && strings.EqualFold(key, k) {
			return fmt.Errorf("key %q is not %q: keys are case-sensitive", key, k)
		}
	}
	return KeyErr(key, p.Skip())
}

// KeyErr prefixes err with the key it happened under, building a path such as
// rope_scaling: factor: ...
func KeyErr(key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", key, err)
}
