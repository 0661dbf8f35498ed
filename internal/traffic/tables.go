package traffic

// Constant tables the generator draws from. They are package-level only
// because Go has no constant slices; nothing writes to them.

// browserProfile is one real browser as a shop sees it.
type browserProfile struct {
	ua       string
	secCHUA  string // sec-ch-ua; empty for browsers that are not Chromium-based
	platform string // sec-ch-ua-platform (Chromium only)
	mobile   bool
	fp       string // client fingerprint of the browser's TLS stack (JA4-shaped, synthetic)
	weight   int    // popularity among the shop's owners (Japan, 2026)
}

// Client fingerprints, shaped like JA4 but synthetic: one per TLS stack.
const (
	fpChromium = "t13d1516h2_8daaf6152771_d8a2da3f94cd"
	fpFirefox  = "t13d1717h2_5b57614c22b0_3d5424432f57"
	fpSafari   = "t13d2014h2_a09f3c656075_14788d8d241b"
	fpPython   = "t13d1812h1_85036bcba153_b26ce05bbdd6"
	fpHydra    = "t12d3112h1_e8f1e7e78f70_375ad2e4e4b0"
	fpCurl     = "t13d3112h1_e8f1e7e78f70_b26ce05bbdd6"
	fpGo       = "t13d1311h1_f57a46bbacb6_e7c285222651"
	fpOkHTTP   = "t13d1613h2_46e7e9700bed_eca864cca44a"
)

// browsers is the pool of current browsers: owners pick by weight,
// attackers that use "browsers" user agents pick uniformly.
var browsers = [...]browserProfile{
	{ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Mobile/15E148 Safari/604.1", mobile: true, fp: fpSafari, weight: 14},
	{ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1", mobile: true, fp: fpSafari, weight: 10},
	{ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 Mobile/15E148 Safari/604.1", mobile: true, fp: fpSafari, weight: 6},
	{ua: "Mozilla/5.0 (iPad; CPU OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Mobile/15E148 Safari/604.1", mobile: true, fp: fpSafari, weight: 2},
	{ua: "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36", secCHUA: `"Chromium";v="142", "Google Chrome";v="142", "Not_A Brand";v="99"`, platform: `"Android"`, mobile: true, fp: fpChromium, weight: 11},
	{ua: "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Mobile Safari/537.36", secCHUA: `"Google Chrome";v="141", "Not?A_Brand";v="8", "Chromium";v="141"`, platform: `"Android"`, mobile: true, fp: fpChromium, weight: 6},
	{ua: "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/28.0 Chrome/130.0.0.0 Mobile Safari/537.36", secCHUA: `"Chromium";v="130", "Samsung Internet";v="28.0", "Not?A_Brand";v="99"`, platform: `"Android"`, mobile: true, fp: fpChromium, weight: 2},
	{ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36", secCHUA: `"Chromium";v="142", "Google Chrome";v="142", "Not_A Brand";v="99"`, platform: `"Windows"`, fp: fpChromium, weight: 12},
	{ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36", secCHUA: `"Google Chrome";v="141", "Not?A_Brand";v="8", "Chromium";v="141"`, platform: `"Windows"`, fp: fpChromium, weight: 6},
	{ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36", secCHUA: `"Chromium";v="140", "Not=A?Brand";v="24", "Google Chrome";v="140"`, platform: `"Windows"`, fp: fpChromium, weight: 2},
	{ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0", secCHUA: `"Chromium";v="142", "Microsoft Edge";v="142", "Not_A Brand";v="99"`, platform: `"Windows"`, fp: fpChromium, weight: 5},
	{ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36 Edg/141.0.0.0", secCHUA: `"Microsoft Edge";v="141", "Not?A_Brand";v="8", "Chromium";v="141"`, platform: `"Windows"`, fp: fpChromium, weight: 2},
	{ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36", secCHUA: `"Chromium";v="142", "Google Chrome";v="142", "Not_A Brand";v="99"`, platform: `"macOS"`, fp: fpChromium, weight: 4},
	{ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36", secCHUA: `"Google Chrome";v="141", "Not?A_Brand";v="8", "Chromium";v="141"`, platform: `"macOS"`, fp: fpChromium, weight: 2},
	{ua: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36", secCHUA: `"Chromium";v="142", "Google Chrome";v="142", "Not_A Brand";v="99"`, platform: `"Linux"`, fp: fpChromium, weight: 1},
	{ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Safari/605.1.15", fp: fpSafari, weight: 4},
	{ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Safari/605.1.15", fp: fpSafari, weight: 2},
	{ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 Safari/605.1.15", fp: fpSafari, weight: 1},
	{ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0", fp: fpFirefox, weight: 3},
	{ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:144.0) Gecko/20100101 Firefox/144.0", fp: fpFirefox, weight: 1},
	{ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:145.0) Gecko/20100101 Firefox/145.0", fp: fpFirefox, weight: 1},
	{ua: "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0", fp: fpFirefox, weight: 1},
}

// automationProfile is an HTTP client that does not pretend to be a browser.
type automationProfile struct {
	ua string
	fp string
}

// automation is the pool of "automation" user agents: no accept-language,
// no client hints.
var automation = [...]automationProfile{
	{ua: "python-requests/2.31.0", fp: fpPython},
	{ua: "Mozilla/5.0 (Hydra)", fp: fpHydra},
	{ua: "curl/8.5.0", fp: fpCurl},
	{ua: "Go-http-client/1.1", fp: fpGo},
	{ua: "okhttp/4.12.0", fp: fpOkHTTP},
}

// weighted is a choice with a relative weight.
type weighted struct {
	value  string
	weight int
}

// ownerLanguages is the accept-language a Japanese owner's browser sends.
var ownerLanguages = [...]weighted{
	{"ja-JP,ja;q=0.9", 50},
	{"ja,en-US;q=0.9,en;q=0.8", 40},
	{"ja", 5},
	{"en-US,en;q=0.9,ja;q=0.8", 5},
}

// attackerLanguages is the accept-language of attack tools that use
// browser user agents.
var attackerLanguages = [...]weighted{
	{"en-US,en;q=0.9", 40},
	{"ja-JP,ja;q=0.9", 30},
	{"ja,en-US;q=0.9,en;q=0.8", 20},
	{"zh-CN,zh;q=0.9", 5},
	{"ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", 5},
}

// jstHourWeight is the relative login rate of each hour of the day in
// Japan (JST, UTC+9): quiet 02-06, a lunch peak, the main peak 20-23.
var jstHourWeight = [24]float64{
	0.9, 0.55, 0.3, 0.18, 0.15, 0.2, 0.4, 0.7, 0.9, 1.0, 1.0, 1.2,
	1.7, 1.3, 1.0, 1.0, 1.0, 1.1, 1.2, 1.4, 1.8, 2.0, 1.9, 1.4,
}

// commonPasswordSHA1 holds the SHA-1 (uppercase hex) of the most common
// passwords of public breach corpora, most common first. Only hashes are
// kept so no clear-text password exists anywhere in the generator.
var commonPasswordSHA1 = [...]string{
	"7C4A8D09CA3762AF61E59520943DC26494F8941B",
	"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8",
	"F7C3BC1D808E04732ADF679965CCC34CA7AE3441",
	"7C222FB2927D828AF22F592134E8932480637C0D",
	"B1B3773A05C0ED0176787A4F1574FF0075F7521E",
	"3D4F2BF07DC1BE38B20CD6E46949A1071F9D0E3D",
	"20EABE5D64B0E216796E834F52D61FD0B70332FC",
	"6367C48DD193D56EA7B0BAAD25B19455E529F5EE",
	"E38AD214943DAAD1D64C102FAEC29DE4AFE9DA3D",
	"EE8D8728F435FD550F83852AABAB5234CE1DA528",
	"C984AED014AEC7623A54F0591DA07A85FD4B762D",
	"C6922B6BA9E0939583F973BC1682493351AD4FE8",
	"5CEC175B165E3D5E62C9E13CE848EF6FEAC81BFF",
	"601F1889667EFAEBB33B8C12572835DA3F027F78",
	"6435F683AB44DC5A30AFA7A4523115585991EB42",
	"7110EDA4D09E062AA5E4A390B0A572AC0D2C0220",
	"AF8978B1797B72ACFFF9595A5A2A373EC3D9106D",
	"AB87D24BDC7452E55738DEB5F868E1F16DEA5ACE",
	"B7A875FC1EA228B9061041B7CEC4BD3C52AB3CE3",
	"DD5FEF9C1C1DA1394D6D34B248C51BE2AD740840",
}

// emailDomains spreads owners' addresses over a few domains; every
// owner address keeps its unique number, so addresses never collide.
var emailDomains = [...]weighted{
	{"user%06d@example.jp", 75},
	{"user%06d@example.co.jp", 10},
	{"user%06d@example.com", 8},
	{"user%06d+shop@example.jp", 5},
	{"user.%06d@example.ne.jp", 2},
}

// Name parts for the logins of combo lists that are not accounts of the
// shop. None contains "user" followed by digits, so none is an account.
var (
	comboGiven = [...]string{
		"taro", "hanako", "yuki", "kenji", "akiko", "hiroshi", "naoko", "takumi",
		"sakura", "daisuke", "emi", "kazuya", "mai", "ryo", "yuka", "shota", "aya",
		"john", "mike", "sarah", "emma", "david", "anna", "chris", "alex", "maria",
		"wei", "min", "olga", "ivan",
	}
	comboFamily = [...]string{
		"yamada", "tanaka", "suzuki", "sato", "takahashi", "watanabe", "ito",
		"nakamura", "kobayashi", "kato", "yoshida", "yamamoto", "smith", "jones",
		"brown", "lee", "wang", "chen", "nguyen", "garcia",
	}
	comboDomains = [...]string{
		"example.com", "example.net", "example.org", "example.jp",
		"example.co.jp", "example.ne.jp", "mail.example.com", "example.jp",
	}
)

// Owners' names and addresses, for order.attempt shipping data.
var (
	familyNames = [...]string{"山田", "田中", "鈴木", "佐藤", "高橋", "渡辺", "伊藤", "中村", "小林", "加藤"}
	givenNames  = [...]string{"太郎", "花子", "健", "陽子", "翔", "美咲", "大輔", "愛", "直樹", "由美"}
)

// place is a delivery area: postal code, prefecture, city, and a street.
type place struct {
	postalCode, region, city, street string
}

var places = [...]place{
	{"100-0001", "東京都", "千代田区", "千代田"},
	{"150-0002", "東京都", "渋谷区", "渋谷"},
	{"530-0001", "大阪府", "大阪市北区", "梅田"},
	{"220-0011", "神奈川県", "横浜市西区", "高島"},
	{"460-0008", "愛知県", "名古屋市中区", "栄"},
	{"812-0011", "福岡県", "福岡市博多区", "博多駅前"},
	{"060-0001", "北海道", "札幌市中央区", "北一条西"},
	{"600-8216", "京都府", "京都市下京区", "東塩小路町"},
	{"980-0811", "宮城県", "仙台市青葉区", "一番町"},
	{"330-0063", "埼玉県", "さいたま市浦和区", "高砂"},
}

// product is an item of the shop.
type product struct {
	sku   string
	price int64 // JPY
}

var products = [...]product{
	{"iphone-x-256-silver", 131800},
	{"galaxy-s25-256-navy", 124800},
	{"pixel-10-128-obsidian", 128900},
	{"airpods-pro-3", 39800},
	{"usb-c-cable-1m", 1980},
	{"phone-case-clear", 2480},
	{"screen-protector-2pk", 1580},
	{"charger-30w", 3980},
	{"gift-card-5000", 5000},
}

var paymentMethods = [...]weighted{
	{"credit_card", 60},
	{"carrier_billing", 20},
	{"convenience_store", 12},
	{"bank_transfer", 8},
}

// Address space, by first octet. Owners (Japanese residential ISPs, mobile
// carriers, travel networks) and attackers draw from disjoint sets, so an
// attacker address never falls in an owner network. Neither set contains
// a reserved, private, shared (100.64/10), documentation or multicast
// range.
var (
	ownerFirstOctets = [...]byte{
		27, 36, 42, 49, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115,
		116, 118, 119, 120, 121, 122, 123, 124, 125, 126, 133, 150, 153, 180,
		182, 183, 202, 210, 211, 218, 219, 220, 221, 222,
	}
	attackerFirstOctets = [...]byte{
		2, 5, 23, 31, 37, 41, 45, 46, 62, 64, 66, 67, 68, 69, 70, 71, 72, 73,
		74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91,
		92, 93, 94, 95, 96, 97, 98, 99, 102, 103, 104, 105, 107, 108, 109, 117,
		131, 134, 136, 137, 138, 139, 141, 142, 143, 144, 145, 146, 147, 148,
		149, 151, 152, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164,
		165, 166, 167, 168, 170, 171, 173, 174, 175, 176, 177, 178, 179, 181,
		184, 185, 186, 187, 188, 189, 190, 191, 193, 194, 195, 196, 197, 200,
		201, 212, 213, 217, 223,
	}
)
