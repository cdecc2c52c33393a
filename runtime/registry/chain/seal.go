package chain

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/crypto/ecies"

	"github.com/br2k/br2k/runtime/registry"
)

// Records go on chain encrypted to the service account's public key (ECIES
// over secp256k1, go-ethereum's crypto/ecies, as br2k-was did): anyone can
// read the chain, only holders of the service account's key can read where
// the backups are. A record never holds a password, encrypted or not
// (registry.Record has no field for one).

// sealFormat is the first byte of a sealed record, so that a later format
// can be told apart.
const sealFormat = 1

// Seal encrypts rec to pub.
func Seal(pub *ecdsa.PublicKey, rec registry.Record) ([]byte, error) {
	plain, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	ct, err := ecies.Encrypt(rand.Reader, ecies.ImportECDSAPublic(pub), plain, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("chain: encrypt the backup log record: %w", err)
	}
	return append([]byte{sealFormat}, ct...), nil
}

// Unseal decrypts a sealed record with the service account's key.
func Unseal(key *ecdsa.PrivateKey, sealed []byte) (registry.Record, error) {
	var rec registry.Record
	if len(sealed) == 0 || sealed[0] != sealFormat {
		return rec, errors.New("chain: not a sealed backup log record (format byte)")
	}
	plain, err := ecies.ImportECDSA(key).Decrypt(sealed[1:], nil, nil)
	if err != nil {
		return rec, fmt.Errorf("chain: decrypt a backup log record (is the key the service account's?): %w", err)
	}
	if err := json.Unmarshal(plain, &rec); err != nil {
		return rec, fmt.Errorf("chain: a decrypted backup log record is not JSON: %w", err)
	}
	return rec, nil
}
