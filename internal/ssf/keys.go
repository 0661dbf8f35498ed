package ssf

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// KeyFileName is the signing keys' file in the data directory, kept with
// the guard's other secrets (secret.key, factor.keys), mode 0600.
const KeyFileName = "ssf-signing.json"

// keyBits is the size of the RSA keys a guard signs SETs with.
const keyBits = 2048

// signingKey is one key of the file: the current one signs, retired ones
// stay in the JWKS until the SETs they signed have aged out.
type signingKey struct {
	ID      string          `json:"kid"`
	Created time.Time       `json:"created"`
	Retired time.Time       `json:"retired,omitzero"`
	JWK     jose.JSONWebKey `json:"jwk"` // private
}

type keyFile struct {
	Keys []signingKey `json:"keys"` // the current key first
}

// Keys are a guard's SET signing keys, read from their file and read
// again when it changes (atoguard federation rotate-key). Safe for
// concurrent use; never prints a private key.
type Keys struct {
	path string

	mu      sync.Mutex
	keys    []signingKey
	modTime time.Time
	checked time.Time
}

// String implements fmt.Stringer: key ids, never keys.
func (k *Keys) String() string { return "ssf.Keys(" + k.path + ")" }

// LoadKeys reads the signing keys of path, creating the file with one
// fresh key when it does not exist (created reports that).
func LoadKeys(path string, now time.Time) (k *Keys, created bool, err error) {
	k = &Keys{path: path}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("creating data directory: %w", err)
		}
		key, err := newSigningKey(now)
		if err != nil {
			return nil, false, err
		}
		if err := writeKeyFile(path, keyFile{Keys: []signingKey{key}}, true); err != nil {
			return nil, false, err
		}
		created = true
	}
	if err := k.reload(now, true); err != nil {
		return nil, false, err
	}
	return k, created, nil
}

// RotateKeys makes a fresh key current in the file at path and retires
// the one that was, at now; keys retired before now-keep are dropped.
// It returns the new key's id.
func RotateKeys(path string, now time.Time, keep time.Duration) (string, error) {
	f, err := readKeyFile(path)
	if err != nil {
		return "", err
	}
	key, err := newSigningKey(now)
	if err != nil {
		return "", err
	}
	out := keyFile{Keys: []signingKey{key}}
	for _, old := range f.Keys {
		if old.Retired.IsZero() {
			old.Retired = now
		}
		if now.Sub(old.Retired) < keep {
			out.Keys = append(out.Keys, old)
		}
	}
	if err := writeKeyFile(path, out, false); err != nil {
		return "", err
	}
	return key.ID, nil
}

func newSigningKey(now time.Time) (signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return signingKey{}, fmt.Errorf("generating signing key: %w", err)
	}
	id := now.UTC().Format("20060102T150405Z") + "-" + randomID(4)
	return signingKey{ID: id, Created: now.UTC(),
		JWK: jose.JSONWebKey{Key: priv, KeyID: id, Algorithm: string(jose.RS256), Use: "sig"}}, nil
}

func readKeyFile(path string) (keyFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return keyFile{}, fmt.Errorf("reading signing keys: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return keyFile{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Keys) == 0 {
		return keyFile{}, fmt.Errorf("%s: no key", path)
	}
	for i, key := range f.Keys {
		priv, ok := key.JWK.Key.(*rsa.PrivateKey)
		if !ok || priv.N.BitLen() < keyBits {
			return keyFile{}, fmt.Errorf("%s: key %d (%s): not an RSA private key of %d bits or more", path, i, key.ID, keyBits)
		}
		// A key read from JSON lacks the CRT values: without them each
		// signature would compute them again (several times slower).
		priv.Precomputed = rsa.PrecomputedValues{}
		priv.Precompute()
		if err := priv.Validate(); err != nil {
			return keyFile{}, fmt.Errorf("%s: key %d (%s): %w", path, i, key.ID, err)
		}
	}
	return f, nil
}

// writeKeyFile writes f to path through a temporary file and a rename,
// so a reader sees the old file or the new one.
func writeKeyFile(path string, f keyFile, exclusive bool) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if exclusive {
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("creating signing keys: %w", err)
		}
		_, werr := fh.Write(data)
		if err := errors.Join(werr, fh.Sync(), fh.Close()); err != nil {
			return fmt.Errorf("writing signing keys: %w", err)
		}
		return nil
	}
	tmp := path + ".tmp"
	fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing signing keys: %w", err)
	}
	_, werr := fh.Write(data)
	if err := errors.Join(werr, fh.Sync(), fh.Close()); err != nil {
		return fmt.Errorf("writing signing keys: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing signing keys: %w", err)
	}
	return nil
}

// reloadEvery is how often the file is looked at for a rotation.
const reloadEvery = 10 * time.Second

// reload reads the file again when it changed (at most every
// reloadEvery unless force).
func (k *Keys) reload(now time.Time, force bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !force && now.Sub(k.checked) < reloadEvery {
		return nil
	}
	k.checked = now
	st, err := os.Stat(k.path)
	if err != nil {
		return fmt.Errorf("reading signing keys: %w", err)
	}
	if !force && st.ModTime().Equal(k.modTime) {
		return nil
	}
	f, err := readKeyFile(k.path)
	if err != nil {
		return err
	}
	k.keys, k.modTime = f.Keys, st.ModTime()
	return nil
}

// current returns the key that signs at now.
func (k *Keys) current(now time.Time) jose.JSONWebKey {
	_ = k.reload(now, false) // a file that cannot be read keeps the keys read before
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys[0].JWK
}

// Public returns the JWKS at now: the current key and those retired less
// than keep ago.
func (k *Keys) Public(now time.Time, keep time.Duration) jose.JSONWebKeySet {
	_ = k.reload(now, false)
	k.mu.Lock()
	defer k.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, key := range k.keys {
		if key.Retired.IsZero() || now.Sub(key.Retired) < keep {
			set.Keys = append(set.Keys, key.JWK.Public())
		}
	}
	return set
}

// KeyInfo describes a signing key without its secret.
type KeyInfo struct {
	ID      string
	Created time.Time
	Retired time.Time // zero: the current key
}

// ListKeys returns the keys of the file at path, the current one first.
func ListKeys(path string) ([]KeyInfo, error) {
	f, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	var out []KeyInfo
	for _, k := range f.Keys {
		out = append(out, KeyInfo{ID: k.ID, Created: k.Created, Retired: k.Retired})
	}
	return out, nil
}
