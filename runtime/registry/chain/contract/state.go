package contract

import "fmt"

// State is a service's life-cycle state in the registry (the contract's
// ServiceRegistry.State enum, an uint8 on the wire): the Service call's
// State, and the arguments of the ServiceStateChanged event and of the
// InvalidTransition error.
type State uint8

// The contract's states, in the enum's order. See contracts/ServiceRegistry.sol
// for the transitions.
const (
	StateRegistered State = iota
	StateRunning
	StatePaused
	StateStopped
)

// String returns the state's name in the contract.
func (s State) String() string {
	switch s {
	case StateRegistered:
		return "Registered"
	case StateRunning:
		return "Running"
	case StatePaused:
		return "Paused"
	case StateStopped:
		return "Stopped"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}
