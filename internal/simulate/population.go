package simulate

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/traffic"
)

// The traffic generator keeps only password hashes. Driving a real shop
// needs clear-text passwords, so the simulator derives one per account
// from a key (HMAC), and maps the common passwords a spray tries back to
// their text. All of it is simulation data.

// commonPasswords are the clear texts of the common-password hashes the
// generator sprays (internal/traffic), most common first.
var commonPasswords = []string{
	"123456", "password", "123456789", "12345678", "qwerty", "111111", "1234567", "abc123",
	"password1", "iloveyou", "000000", "1qaz2wsx", "qwerty123", "123123", "1234", "dragon",
	"monkey", "letmein", "654321",
}

var commonBySHA1 = func() map[string]string {
	m := map[string]string{}
	for _, p := range commonPasswords {
		m[client.PasswordSHA1(p)] = p
	}
	return m
}()

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func derive(key []byte, kind, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind + "\x00" + id))
	return b32.EncodeToString(m.Sum(nil))
}

// OwnerPassword is the password of account id: 14 characters derived
// from key.
func OwnerPassword(key []byte, id string) string {
	s := derive(key, "owner", id)
	return "Pw" + strings.ToLower(s[:6]) + s[6:12]
}

// wrongPassword is the (wrong) password a combo list pairs with login.
func wrongPassword(key []byte, login string) string {
	s := derive(key, "leaked", login)
	return "lk" + strings.ToLower(s[:10])
}

// item is one generated event, parsed.
type item struct {
	label traffic.Label
	ev    client.Event
	raw   json.RawMessage
}

func parseStream(labeled []traffic.Labeled) ([]item, error) {
	out := make([]item, len(labeled))
	for i, l := range labeled {
		out[i] = item{label: l.Label, raw: l.Event}
		if err := json.Unmarshal(l.Event, &out[i].ev); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
	}
	return out, nil
}

// population returns the accounts the events name, with the passwords the
// live mode types: derived from key, or the common password the account
// uses when a spray found it (its logins carry that hash).
func population(items []item, key []byte) []demoshop.SeedAccount {
	idx := map[string]int{}
	var out []demoshop.SeedAccount
	for _, it := range items {
		u := it.ev.User
		if u == nil || u.ID == "" || u.Email == "" {
			continue
		}
		i, ok := idx[u.ID]
		if !ok {
			i = len(out)
			idx[u.ID] = i
			out = append(out, seedAccount(key, u.ID, u.Email))
		}
		if it.ev.Type == client.LoginSucceeded && it.ev.Credential != nil {
			if p, ok := commonBySHA1[it.ev.Credential.PasswordSHA1]; ok {
				out[i].Password = p
			}
		}
	}
	return out
}

// Names and addresses of seeded accounts.
var (
	familyNames = []string{"山田", "田中", "鈴木", "佐藤", "高橋", "渡辺", "伊藤", "中村", "小林", "加藤"}
	givenNames  = []string{"太郎", "花子", "健", "陽子", "翔", "美咲", "大輔", "愛", "直樹", "由美"}
	places      = []demoshop.Address{
		{PostalCode: "100-0001", Region: "東京都", City: "千代田区", Line1: "千代田"},
		{PostalCode: "150-0002", Region: "東京都", City: "渋谷区", Line1: "渋谷"},
		{PostalCode: "530-0001", Region: "大阪府", City: "大阪市北区", Line1: "梅田"},
		{PostalCode: "220-0011", Region: "神奈川県", City: "横浜市西区", Line1: "高島"},
		{PostalCode: "460-0008", Region: "愛知県", City: "名古屋市中区", Line1: "栄"},
		{PostalCode: "812-0011", Region: "福岡県", City: "福岡市博多区", Line1: "博多駅前"},
		{PostalCode: "060-0001", Region: "北海道", City: "札幌市中央区", Line1: "北一条西"},
	}
)

func seedAccount(key []byte, id, email string) demoshop.SeedAccount {
	h := sha256.Sum256([]byte(id))
	n := binary.BigEndian.Uint64(h[:8])
	addr := places[n%uint64(len(places))]
	addr.Line1 = fmt.Sprintf("%s%d-%d-%d", addr.Line1, 1+n/7%5, 1+n/35%30, 1+n/1050%20)
	return demoshop.SeedAccount{
		ID: id, Email: email, Password: OwnerPassword(key, id),
		Name:    familyNames[n/21000%10] + " " + givenNames[n/210000%10],
		Phone:   fmt.Sprintf("090-%04d-%04d", n/3%10000, n/30000%10000),
		Address: addr,
	}
}

// DemoAccounts returns n accounts for `atoguard demo`: u-000001 …,
// user000001@example.jp …, with passwords derived from key.
func DemoAccounts(n int, key []byte) []demoshop.SeedAccount {
	out := make([]demoshop.SeedAccount, n)
	for i := range out {
		id := fmt.Sprintf("u-%06d", i+1)
		out[i] = seedAccount(key, id, fmt.Sprintf("user%06d@example.jp", i+1))
	}
	return out
}

// ComboStats counts the lines of a combo list by kind.
type ComboStats struct {
	Lines, Valid, WrongPassword, Unknown int
}

// WriteComboList writes a leaked combo list ("email:password" lines, the
// format of hydra -C) of n lines: a share reuse of them are real accounts
// with their real password (reused elsewhere, leaked there), a share
// unknown name no account here, and the rest are real accounts with a
// password they do not use here. The order is random (seeded).
func WriteComboList(w io.Writer, accts []demoshop.SeedAccount, n int, reuse, unknown float64, key []byte, seed uint64) (ComboStats, error) {
	r := rand.New(rand.NewPCG(seed, 0x636f6d626f))
	st := ComboStats{Lines: n}
	st.Unknown = int(float64(n)*unknown + 0.5)
	known := min(n-st.Unknown, len(accts))
	st.Unknown = n - known
	st.Valid = min(int(float64(n)*reuse+0.5), known)
	st.WrongPassword = known - st.Valid
	perm := r.Perm(len(accts))[:known]
	lines := make([]string, 0, n)
	for i, a := range perm {
		acct := accts[a]
		pw := acct.Password
		if i >= st.Valid {
			pw = wrongPassword(key, acct.Email)
		}
		lines = append(lines, acct.Email+":"+pw)
	}
	given := []string{"taro", "hanako", "yuki", "kenji", "akiko", "john", "mike", "sarah", "emma", "wei", "olga", "ivan"}
	family := []string{"yamada", "tanaka", "suzuki", "sato", "smith", "jones", "lee", "chen", "garcia"}
	domains := []string{"example.com", "example.net", "example.org", "mail.example.com"}
	for range st.Unknown {
		login := fmt.Sprintf("%s.%s%d@%s", given[r.IntN(len(given))], family[r.IntN(len(family))], r.IntN(10000), domains[r.IntN(len(domains))])
		lines = append(lines, login+":"+wrongPassword(key, login))
	}
	r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	bw := bufio.NewWriter(w)
	for _, l := range lines {
		if _, err := bw.WriteString(l + "\n"); err != nil {
			return st, fmt.Errorf("writing combo list: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("writing combo list: %w", err)
	}
	return st, nil
}
