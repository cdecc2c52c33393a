package br2kvet

import (
	"go/types"

	"github.com/br2k/br2k/annotations"
)

const hintOnlyOnceWrite = "an onlyonce handler runs on the leader alone: a state change there makes the leader's state differ from the followers'. Change the state in a //br2k:replicate handler (the client calls it, or the onlyonce handler returns what the client should send)"

// checkOnlyOnceWrites reports every write to the state an onlyonce handler
// makes: through its receiver or an alias of it, directly or by calling a
// method or function that writes, or by calling a replicated handler.
func (a *vetter) checkOnlyOnceWrites(fn *types.Func) {
	fd := a.decls[fn]
	if fd == nil {
		return
	}
	rs := a.stateRoots(fd)
	if len(rs) == 0 {
		return
	}
	for _, w := range a.scanWrites(fd.Body, rs) {
		if r := a.handlers[w.call]; r != nil && r.Kind == annotations.KindReplicate {
			a.report(w.pos, annotations.CodeOnlyOnceWrite,
				"call it through the service's route so that it is logged and applied on every replica, or move the shared logic into a helper that only reads",
				"onlyonce handler %s calls replicated handler %s directly: its changes would reach the leader's state only", fn.Name(), w.call.Name())
			continue
		}
		a.report(w.pos, annotations.CodeOnlyOnceWrite, hintOnlyOnceWrite, "onlyonce handler %s writes the state: it %s", fn.Name(), w.what)
	}
}
