// Package password hashes admin UI passwords with argon2id and checks them. Hashes are
// PHC strings ($argon2id$v=19$m=…,t=…,p=…$salt$hash), so the parameters can be raised later
// and old hashes still verify.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's costs. Defaults (OWASP's minimum for argon2id): 19 MiB, 2 passes,
// 1 lane, about 25 ms on a laptop core: slow for a guesser, cheap for a sign-in.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// Default is what Hash uses.
var Default = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// MinLength is the shortest password accepted. Defaults to 8 characters.
const MinLength = 8

// ErrTooShort rejects a password shorter than MinLength.
var ErrTooShort = fmt.Errorf("password must have at least %d characters", MinLength)

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of pw with a fresh 16-byte salt.
func Hash(pw string) (string, error) {
	if len([]rune(pw)) < MinLength {
		return "", ErrTooShort
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	p := Default
	sum := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// Verify reports whether pw matches the PHC string hash; a malformed hash never matches.
func Verify(hash, pw string) bool {
	p, salt, sum, err := parse(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(sum)))
	return subtle.ConstantTimeCompare(got, sum) == 1
}

// dummy is verified against when no user matches, so a sign-in takes as long whether or
// not the email exists.
var dummy, _ = Hash("zhiku-no-such-user")

// Waste spends the time of one Verify, for sign-ins of unknown emails.
func Waste(pw string) { Verify(dummy, pw) }

func parse(hash string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("password: not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errors.New("password: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil || p.Time == 0 || p.Threads == 0 || p.MemoryKiB > 1<<21 {
		return p, nil, nil, errors.New("password: bad argon2 parameters")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, errors.New("password: bad salt")
	}
	sum, err := b64.DecodeString(parts[5])
	if err != nil || len(sum) < 16 {
		return p, nil, nil, errors.New("password: bad hash")
	}
	return p, salt, sum, nil
}
