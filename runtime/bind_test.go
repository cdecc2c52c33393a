package runtime

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// level and colors are named types, bound without conversions.
type (
	level  int16
	color  string
	colors []color
)

type queryIn struct {
	Shelf  string
	Title  string
	Since  level
	Max    uint8
	Used   bool
	Colors colors
	Years  []int
	Sizes  []uint
	Flags  []bool
}

func (in *queryIn) params() []Param {
	return []Param{
		PathString("shelf", &in.Shelf),
		QueryString("title", &in.Title).Required(),
		QueryInt("since", &in.Since),
		QueryUint("max", &in.Max),
		QueryBool("used", &in.Used),
		QueryStrings("color", &in.Colors),
		QueryInts("year", &in.Years),
		QueryUints("size", &in.Sizes),
		QueryBools("flag", &in.Flags),
	}
}

// bindQuery binds target, routed on /shelves/{shelf}, to a copy of start.
func bindQuery(t *testing.T, target string, start queryIn) (queryIn, error) {
	t.Helper()
	in := start
	return routeParam(t, "/shelves/{shelf}", httptest.NewRequest("GET", target, nil), func(r *http.Request) (queryIn, error) {
		err := Bind(r, in.params()...)
		return in, err
	})
}

func TestBindQueryParameters(t *testing.T) {
	tests := []struct {
		name, target string
		start, want  queryIn
	}{
		{"required only", "/shelves/s?title=Go", queryIn{}, queryIn{Shelf: "s", Title: "Go"}},
		{"every kind", "/shelves/s%2F1?title=a+b%2Bc&since=-300&max=255&used=true&color=red&color=blue&year=1999&year=-4&size=0&flag=1&flag=false",
			queryIn{}, queryIn{Shelf: "s/1", Title: "a b+c", Since: -300, Max: 255, Used: true, Colors: colors{"red", "blue"}, Years: []int{1999, -4}, Sizes: []uint{0}, Flags: []bool{true, false}}},
		{"empty value and empty pairs", "/shelves/s?&title=&&", queryIn{}, queryIn{Shelf: "s", Title: ""}},
		{"escaped key", "/shelves/s?%74itle=x", queryIn{}, queryIn{Shelf: "s", Title: "x"}},
		{"a missing key leaves the body's value", "/shelves/s?title=x", queryIn{Since: 7, Years: []int{1}}, queryIn{Shelf: "s", Title: "x", Since: 7, Years: []int{1}}},
		{"a given key replaces the body's value", "/shelves/s?title=x&since=8&year=2", queryIn{Since: 7, Years: []int{1}}, queryIn{Shelf: "s", Title: "x", Since: 8, Years: []int{2}}},
	}
	for _, tt := range tests {
		got, err := bindQuery(t, tt.target, tt.start)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %s: got %+v, %v; want %+v", tt.name, tt.target, got, err, tt.want)
		}
	}
}

func TestBindRefusesBadQueryParameters(t *testing.T) {
	tests := []struct{ target, code, msg string }{
		{"/shelves/s", CodeBadQueryParam, `query parameter "title" is required`},
		{"/shelves/s?title=a&since=40000", CodeBadQueryParam, `query parameter "since": "40000" is not an integer of 16 bits`},
		{"/shelves/s?title=a&max=256", CodeBadQueryParam, `query parameter "max": "256" is not an unsigned integer of 8 bits`},
		{"/shelves/s?title=a&used=yes", CodeBadQueryParam, `query parameter "used": "yes" is not true or false`},
		{"/shelves/s?title=a&used", CodeBadQueryParam, `query parameter "used": "" is not true or false`},
		{"/shelves/s?title=a&year=1&year=x", CodeBadQueryParam, `query parameter "year": "x" is not an integer of 64 bits`},
		{"/shelves/s?title=a&title=b", CodeBadQueryParam, `query parameter "title" is given 2 times; it takes one value`},
		{"/shelves/s?title=%zz", CodeBadQueryParam, `query parameter "title": "%zz" is not validly percent-encoded`},
		{"/shelves/s?ti%zztle=a", CodeBadQueryParam, `query parameter name "ti%zztle" is not validly percent-encoded`},
		{"/shelves/s?title=a;since=1", CodeBadQueryParam, `query parameter "title": the query string has a ";"; separate parameters with "&" and escape ";" in values as %3B`},
		{"/shelves/s?title=a&colour=red", CodeUnknownQueryParam, `unknown query parameter "colour"`},
		{"/shelves/s?Title=a", CodeUnknownQueryParam, `unknown query parameter "Title"`},
		{"/shelves/s?=a&title=b", CodeUnknownQueryParam, `unknown query parameter ""`},
	}
	for _, tt := range tests {
		_, err := bindQuery(t, tt.target, queryIn{})
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != tt.code || e.Message != tt.msg {
			t.Errorf("%s: error %v; want 400 %s %s", tt.target, err, tt.code, tt.msg)
		}
	}
}

func TestBindChecksPathParametersFirst(t *testing.T) {
	var n uint32
	var s string
	_, err := routeParam(t, "/items/{id}", httptest.NewRequest("GET", "/items/x?nope=1", nil), func(r *http.Request) (int, error) {
		return 0, Bind(r, PathUint("id", &n), QueryString("s", &s))
	})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadPathParam || e.Message != `path parameter "id": "x" is not an unsigned integer of 32 bits` {
		t.Errorf("error %v", err)
	}
}

func TestBindWithoutParamsRefusesAnyQuery(t *testing.T) {
	if err := Bind(httptest.NewRequest("POST", "/transfers", nil)); err != nil {
		t.Errorf("no query: %v", err)
	}
	err := Bind(httptest.NewRequest("POST", "/transfers?debug=1", nil))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeUnknownQueryParam || e.Message != `unknown query parameter "debug"` {
		t.Errorf("error %v", err)
	}
}

func TestPathParamsOfNamedTypesUseTheirRange(t *testing.T) {
	var lv level
	var on bool
	var id uint
	_, err := routeParam(t, "/l/{lv}/{on}/{id}", httptest.NewRequest("GET", "/l/-7/true/12", nil), func(r *http.Request) (int, error) {
		return 0, Bind(r, PathInt("lv", &lv), PathBool("on", &on), PathUint("id", &id))
	})
	if err != nil || lv != -7 || !on || id != 12 {
		t.Errorf("got %d %v %d, %v", lv, on, id, err)
	}
	_, err = routeParam(t, "/l/{lv}", httptest.NewRequest("GET", "/l/40000", nil), func(r *http.Request) (int, error) {
		return 0, Bind(r, PathInt("lv", &lv))
	})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadPathParam || e.Message != `path parameter "lv": "40000" is not an integer of 16 bits` {
		t.Errorf("error %v", err)
	}
}
