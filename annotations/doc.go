// Package annotations defines the br2k directive grammar and parses the
// directives of a Go package. It works on syntax trees only and knows
// nothing of code generation; the generator checks the types.
//
// A directive is a line comment that starts exactly with "//br2k:" (no space:
// "// br2k:" is an ordinary comment, as with //go: directives):
//
//	//br2k:state
//	//br2k:replicate METHOD /path [option ...]
//	//br2k:onlyonce METHOD /path [option ...]
//
// //br2k:state goes in the doc comment of the package's one state struct
// type. //br2k:replicate and //br2k:onlyonce go in the doc comment of a
// method of the state type with a pointer receiver; the method name names
// the operation.
//
// METHOD is GET, POST, PUT, PATCH or DELETE. /path is a chi route pattern:
// it starts with "/", has no empty segment and no trailing "/" (except "/"
// itself), and a segment is either static text or a whole parameter {name},
// name an identifier; regular expressions ({id:[0-9]+}) and wildcards (*) are
// not supported, and a name appears once. Two routes with the same METHOD and
// the same pattern up to parameter names (/a/{x} and /a/{y}) collide.
//
// Options are key=value words:
//
//	maxbody=N   request body limit in bytes; N is a positive integer,
//	            optionally suffixed KiB or MiB (maxbody=4KiB).
//
// Every problem is a Diagnostic with the file:line:col of the offending
// token inside the comment and a stable Code from the table Codes.
package annotations
