package stepup

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// softAuthenticator is a software WebAuthn authenticator: an ECDSA P-256
// key, "none" attestation, and the byte layouts of WebAuthn Level 3
// (authenticator data §6.1, attested credential data §6.5.1, client data
// §5.8.1, COSE keys RFC 9053).
type softAuthenticator struct {
	key     *ecdsa.PrivateKey
	credID  []byte
	counter uint32
	step    uint32 // counter increment per use; 0: a counterless authenticator
	rpID    string
	origin  string
	handle  []byte // the user handle, learned at registration
}

func newSoftAuthenticator(t testing.TB, rpID, origin string) *softAuthenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softAuthenticator{key: key, credID: id, step: 1, rpID: rpID, origin: origin}
}

var b64u = base64.RawURLEncoding

func (a *softAuthenticator) clientData(typ string, challenge []byte) []byte {
	data, _ := json.Marshal(map[string]any{
		"type": typ, "challenge": b64u.EncodeToString(challenge), "origin": a.origin, "crossOrigin": false,
	})
	return data
}

// authData is authenticator data with the UP and UV flags, plus AT and the
// attested credential when attested.
func (a *softAuthenticator) authData(t testing.TB, attested bool) []byte {
	rp := sha256.Sum256([]byte(a.rpID))
	out := append([]byte{}, rp[:]...)
	flags := byte(0x01 | 0x04) // user present, user verified
	if attested {
		flags |= 0x40
	}
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, a.counter)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID: none
		out = binary.BigEndian.AppendUint16(out, uint16(len(a.credID)))
		out = append(out, a.credID...)
		pub, err := a.key.PublicKey.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		xy := pub.Bytes()[1:] // uncompressed point without its 0x04
		cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: xy[:32], -3: xy[32:]})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cose...)
	}
	return out
}

// create answers navigator.credentials.create.
func (a *softAuthenticator) create(t testing.TB, creation *protocol.CredentialCreation) []byte {
	t.Helper()
	opts := creation.Response
	switch id := opts.User.ID.(type) {
	case protocol.URLEncodedBase64:
		a.handle = id
	case string:
		a.handle, _ = b64u.DecodeString(id)
	}
	cd := a.clientData("webauthn.create", opts.Challenge)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(t, true)})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{
		"id": b64u.EncodeToString(a.credID), "rawId": b64u.EncodeToString(a.credID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON": b64u.EncodeToString(cd), "attestationObject": b64u.EncodeToString(att),
			"transports": []string{"internal"},
		},
		"clientExtensionResults": map[string]any{},
	})
	return out
}

// get answers navigator.credentials.get, advancing the counter.
func (a *softAuthenticator) get(t testing.TB, assertion *protocol.CredentialAssertion) []byte {
	t.Helper()
	a.counter += a.step
	cd := a.clientData("webauthn.get", assertion.Response.Challenge)
	ad := a.authData(t, false)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{
		"id": b64u.EncodeToString(a.credID), "rawId": b64u.EncodeToString(a.credID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON": b64u.EncodeToString(cd), "authenticatorData": b64u.EncodeToString(ad),
			"signature": b64u.EncodeToString(sig), "userHandle": b64u.EncodeToString(a.handle),
		},
		"clientExtensionResults": map[string]any{},
	})
	return out
}
