package stepup

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// sealVersion is the first byte of every sealed value.
const sealVersion = 1

// KeyFileName is the key file created in the data directory when no key is
// configured.
const KeyFileName = "factor.keys"

// EnvFactorKey is the environment variable that may hold the factor keys,
// in the format of a key file (entries separated by newlines or commas).
const EnvFactorKey = "ATOGUARD_FACTOR_KEY"

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// ErrUnknownKey is returned by Open for a value sealed with a key the
// keyring does not hold.
var ErrUnknownKey = errors.New("sealed with an unknown key")

// Keyring seals factor secrets with AES-256-GCM. Every sealed value names
// the key that sealed it, so keys rotate: the first key of the ring seals,
// every key opens. It is safe for concurrent use and never logs a key.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
	ids     []string
}

// Secret is secret bytes (a TOTP key, a code) that never print: fmt and
// slog show REDACTED.
type Secret []byte

// String implements fmt.Stringer.
func (Secret) String() string { return "REDACTED" }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return "REDACTED" }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// ParseKeys reads a keyring: entries separated by newlines or commas, each
// "ID:KEY" with KEY the base64 (standard or URL alphabet, padded or not) of
// 32 random bytes. Blank entries and lines starting with # are skipped. The
// first entry is the current key, which seals; the others only open.
func ParseKeys(text string) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	var errs []error
	n := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, entry := range strings.Split(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			n++
			id, enc, ok := strings.Cut(entry, ":")
			if !ok || !keyIDPattern.MatchString(id) {
				errs = append(errs, fmt.Errorf("key %d: want ID:BASE64 with an ID of 1-32 letters, digits, '.', '_' or '-'", n))
				continue
			}
			raw, err := decodeKey(enc)
			if err != nil {
				errs = append(errs, fmt.Errorf("key %q: %w", id, err))
				continue
			}
			if _, dup := k.aeads[id]; dup {
				errs = append(errs, fmt.Errorf("key %q: listed twice", id))
				continue
			}
			block, _ := aes.NewCipher(raw) // 32 bytes: cannot fail
			aead, _ := cipher.NewGCM(block)
			k.aeads[id] = aead
			k.ids = append(k.ids, id)
			if k.current == "" {
				k.current = id
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("parsing factor keys: %w", errors.Join(errs...))
	}
	if k.current == "" {
		return nil, errors.New("parsing factor keys: no key")
	}
	return k, nil
}

func decodeKey(enc string) ([]byte, error) {
	enc = strings.TrimRight(strings.TrimSpace(enc), "=")
	raw, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(enc)
	}
	if err != nil {
		return nil, errors.New("not base64")
	}
	if len(raw) != 32 {
		return nil, fmt.Errorf("%d bytes, want 32", len(raw))
	}
	return raw, nil
}

// NewKeyEntry returns a key file entry "id:BASE64" holding 32 fresh random
// bytes.
func NewKeyEntry(id string) string {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails
	return id + ":" + base64.StdEncoding.EncodeToString(raw)
}

// LoadKeys finds the factor keys: the file path when set, else the
// environment value env when set, else the file KeyFileName in dataDir,
// created with one fresh key on first start. created reports that last
// case.
func LoadKeys(path, env, dataDir string) (k *Keyring, created bool, err error) {
	switch {
	case path != "":
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, false, fmt.Errorf("reading factor keys: %w", err)
		}
		k, err := ParseKeys(string(data))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return k, false, nil
	case strings.TrimSpace(env) != "":
		k, err := ParseKeys(env)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", EnvFactorKey, err)
		}
		return k, false, nil
	}
	def := filepath.Join(dataDir, KeyFileName)
	data, err := os.ReadFile(def)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, false, fmt.Errorf("creating data directory: %w", err)
		}
		content := "# atoguard factor keys: the first key seals, every key opens (see README).\n" + NewKeyEntry("k1") + "\n"
		f, err := os.OpenFile(def, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("creating factor keys: %w", err)
		}
		_, werr := f.WriteString(content)
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return nil, false, fmt.Errorf("writing factor keys: %w", err)
		}
		k, err := ParseKeys(content)
		return k, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading factor keys: %w", err)
	}
	k, err = ParseKeys(string(data))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", def, err)
	}
	return k, false, nil
}

// Current returns the id of the key that seals.
func (k *Keyring) Current() string { return k.current }

// IDs returns the ids of every key, the current one first.
func (k *Keyring) IDs() []string { return append([]string(nil), k.ids...) }

// LogValue implements slog.LogValuer: key ids, never keys.
func (k *Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("current", k.current), slog.Int("keys", len(k.ids)))
}

// String implements fmt.Stringer: key ids, never keys.
func (k *Keyring) String() string {
	return fmt.Sprintf("Keyring(current=%s, keys=%d)", k.current, len(k.ids))
}

// aad binds a sealed value to its key id and to context (the factor it
// belongs to), so a value cannot be moved to another factor or user.
func sealAAD(keyID string, context []byte) []byte {
	b := make([]byte, 0, 24+len(keyID)+len(context))
	b = append(b, "atoguard-seal-v1\x00"...)
	b = append(b, keyID...)
	b = append(b, 0)
	return append(b, context...)
}

// Seal encrypts and authenticates plaintext with the current key, bound to
// context: version 1 | len(key id) | key id | nonce | ciphertext and tag.
func (k *Keyring) Seal(plaintext, context []byte) []byte {
	aead := k.aeads[k.current]
	out := make([]byte, 0, 2+len(k.current)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, sealVersion, byte(len(k.current)))
	out = append(out, k.current...)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, sealAAD(k.current, context))
}

// Open decrypts a value Seal made with the same context. stale reports
// that it was sealed with a key other than the current one: seal it again
// to rotate.
func (k *Keyring) Open(sealed, context []byte) (plaintext []byte, stale bool, err error) {
	if len(sealed) < 2 || sealed[0] != sealVersion {
		return nil, false, errors.New("opening sealed value: unknown format")
	}
	n := int(sealed[1])
	if len(sealed) < 2+n {
		return nil, false, errors.New("opening sealed value: truncated")
	}
	id := string(sealed[2 : 2+n])
	aead, ok := k.aeads[id]
	if !ok {
		return nil, false, fmt.Errorf("opening sealed value: key %q: %w", id, ErrUnknownKey)
	}
	rest := sealed[2+n:]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, false, errors.New("opening sealed value: truncated")
	}
	plaintext, err = aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], sealAAD(id, context))
	if err != nil {
		return nil, false, errors.New("opening sealed value: authentication failed")
	}
	return plaintext, id != k.current, nil
}

// sealedKeyID returns the id of the key that sealed a value, or "".
func sealedKeyID(sealed []byte) string {
	if len(sealed) < 2 || sealed[0] != sealVersion || len(sealed) < 2+int(sealed[1]) {
		return ""
	}
	return string(bytes.Clone(sealed[2 : 2+int(sealed[1])]))
}
