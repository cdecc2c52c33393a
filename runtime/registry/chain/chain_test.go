package chain

import (
	"crypto/ecdsa"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/registry"
	"github.com/br2k/br2k/runtime/registry/chain/contract"
)

func TestASealedRecordOpensOnlyWithTheServiceAccountsKey(t *testing.T) {
	key, _ := crypto.GenerateKey()
	other, _ := crypto.GenerateKey()
	rec := registry.Record{Index: 42, Version: 3, Storage: registry.Storage{Type: "mysql", Host: "db.internal:3306", Database: "backup", BackupAccessKey: "0123abcd"},
		ServiceStateSHA256: strings.Repeat("a", 64), Subject: "r1"}
	sealed, err := Seal(&key.PublicKey, rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"db.internal", "0123abcd", "backup"} {
		if strings.Contains(string(sealed), secret) {
			t.Errorf("the sealed record shows %q", secret)
		}
	}
	got, err := Unseal(key, sealed)
	if err != nil || got.Index != 42 || got.Storage.BackupAccessKey != "0123abcd" {
		t.Fatalf("unsealed %+v, %v", got, err)
	}
	if _, err := Unseal(other, sealed); err == nil {
		t.Error("another key opened the record")
	}
	if _, err := Unseal(key, sealed[1:]); err == nil {
		t.Error("a record without its format byte opened")
	}
}

func TestOptionsFromConfigChecksTheKeyTheAccountAndTheInterface(t *testing.T) {
	key, _ := crypto.GenerateKey()
	dir := t.TempDir()
	abiPath := filepath.Join(dir, "ServiceRegistry.json")
	if err := os.WriteFile(abiPath, []byte(`{"abi": `+contract.ServiceRegistryMetaData.ABI+`}`), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongABI := filepath.Join(dir, "wrong.json")
	os.WriteFile(wrongABI, []byte(`[{"type":"function","name":"backupLog","inputs":[{"name":"id","type":"bytes32"},{"name":"record","type":"bytes"}],"outputs":[]}]`), 0o600)
	good := config.ServiceRegistry{Type: config.RegistryEthereum, ID: "ledger", AccessPerm: config.AccessPerm{
		Endpoint: "http://127.0.0.1:8545", Account: crypto.PubkeyToAddress(key.PublicKey).Hex(),
		PrivateKey: config.NewSecret("0x" + hexOf(key)), Contract: config.Contract{JSONInterfacePath: abiPath, Address: "0x" + strings.Repeat("1", 40)},
		Confirmations: 2,
	}}
	opts, err := OptionsFromConfig(good, nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Confirmations != 2 || opts.Kind != Ethereum || opts.Key.D.Cmp(key.D) != 0 || opts.ServiceID != "ledger" {
		t.Errorf("options %+v", opts)
	}
	for _, tt := range []struct {
		name  string
		edit  func(*config.ServiceRegistry)
		wants []string
	}{
		{"no key", func(s *config.ServiceRegistry) { s.AccessPerm.PrivateKey = config.NewSecret("") }, []string{"private-key", "password"}},
		{"bad key", func(s *config.ServiceRegistry) { s.AccessPerm.PrivateKey = config.NewSecret("zz") }, []string{"private-key", "hex"}},
		{"other account", func(s *config.ServiceRegistry) { s.AccessPerm.Account = "0x" + strings.Repeat("2", 40) }, []string{"account", "not the private key's account"}},
		{"wrong interface", func(s *config.ServiceRegistry) { s.AccessPerm.Contract.JSONInterfacePath = wrongABI }, []string{"json-interface-path", "backupLog", "different version"}},
	} {
		s := good
		tt.edit(&s)
		_, err := OptionsFromConfig(s, nil)
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		for _, w := range tt.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.name, err, w)
			}
		}
		if strings.Contains(err.Error(), hexOf(key)) {
			t.Errorf("%s: the error shows the private key", tt.name)
		}
	}
}

func hexOf(key *ecdsa.PrivateKey) string { return hex.EncodeToString(crypto.FromECDSA(key)) }
