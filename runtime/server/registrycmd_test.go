package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/br2k/br2k/internal/gethdev"
	"github.com/br2k/br2k/runtime/registry/chain/contract"
)

// TestRegistryCommandsDeployRegisterAndRead runs the registry operations
// against geth --dev: deploy prints the address, register registers and
// starts the config's service, leader and logs read it (nothing yet), and
// registering twice reports the contract's error by name.
func TestRegistryCommandsDeployRegisterAndRead(t *testing.T) {
	node := gethdev.Start(t, gethdev.Options{})
	manager, _ := node.NewKey(t)
	service, serviceAddr := node.NewKey(t)
	t.Setenv(EnvManagerKey, hex.EncodeToString(crypto.FromECDSA(manager)))
	ctx := context.Background()
	var out bytes.Buffer
	if err := registryCommand(ctx, []string{"deploy", "-endpoint", node.HTTPURL}, &out); err != nil {
		t.Fatal(err)
	}
	addr := regexp.MustCompile(`0x[0-9a-fA-F]{40}`).FindString(out.String())
	if addr == "" {
		t.Fatalf("deploy printed %q", out.String())
	}
	dir := t.TempDir()
	abiPath := filepath.Join(dir, "ServiceRegistry.abi.json")
	os.WriteFile(abiPath, []byte(contract.ServiceRegistryMetaData.ABI), 0o600)
	cfgPath := filepath.Join(dir, "r1.json")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`{
	  "replica": {"id": "r1", "listen": "127.0.0.1:1", "peer-listen": "127.0.0.1:2", "peer-secret": "registry-cmd-secret-0123"},
	  "etcd": {"endpoints": ["http://127.0.0.1:3"]},
	  "service-registry": {"type": "ethereum", "id": "ledger", "access-perm": {"endpoint": %q, "account": %q, "private-key": %q,
	    "contract": {"json-interface-path": %q, "address": %q}}}
	}`, node.HTTPURL, serviceAddr.Hex(), hex.EncodeToString(crypto.FromECDSA(service)), abiPath, addr)), 0o600)
	out.Reset()
	if err := registryCommand(ctx, []string{"register", "-config", cfgPath, "-description", "the ledger", "-endpoints", "http://a,http://b"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `service "ledger" registered and started`) {
		t.Errorf("register printed %q", out.String())
	}
	out.Reset()
	if err := registryCommand(ctx, []string{"leader", "-config", cfgPath}, &out); err != nil || !strings.Contains(out.String(), "no leader location") {
		t.Errorf("leader: %q, %v", out.String(), err)
	}
	out.Reset()
	if err := registryCommand(ctx, []string{"logs", "-config", cfgPath}, &out); err != nil || out.Len() != 0 {
		t.Errorf("logs: %q, %v", out.String(), err)
	}
	err := registryCommand(ctx, []string{"register", "-config", cfgPath}, &out)
	if err == nil || !strings.Contains(err.Error(), "ServiceExists") {
		t.Errorf("registering twice: %v, want the contract's ServiceExists", err)
	}
}
