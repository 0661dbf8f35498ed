package demoshop

import "slices"

// Product is an item of the catalog.
type Product struct {
	SKU    string
	NameJA string
	NameEN string
	Price  int64 // JPY, tax included
	Phone  bool  // a handset: high value, what the 2018 attackers bought
}

// HighValue reports whether the product is the kind of item fraudsters
// buy with taken-over accounts.
func (p Product) HighValue() bool { return p.Price >= 100000 }

// Catalog lists the shop's products. The SKUs are those of the traffic
// generator (internal/traffic), so simulated orders name real items.
var Catalog = []Product{
	{SKU: "iphone-x-256-silver", NameJA: "iPhone X 256GB シルバー", NameEN: "iPhone X 256 GB, silver", Price: 131800, Phone: true},
	{SKU: "galaxy-s25-256-navy", NameJA: "Galaxy S25 256GB ネイビー", NameEN: "Galaxy S25 256 GB, navy", Price: 124800, Phone: true},
	{SKU: "pixel-10-128-obsidian", NameJA: "Pixel 10 128GB オブシディアン", NameEN: "Pixel 10 128 GB, obsidian", Price: 128900, Phone: true},
	{SKU: "airpods-pro-3", NameJA: "AirPods Pro 3", NameEN: "AirPods Pro 3", Price: 39800},
	{SKU: "charger-30w", NameJA: "USB-C 充電器 30W", NameEN: "USB-C charger, 30 W", Price: 3980},
	{SKU: "phone-case-clear", NameJA: "クリアケース", NameEN: "Clear phone case", Price: 2480},
	{SKU: "usb-c-cable-1m", NameJA: "USB-C ケーブル 1m", NameEN: "USB-C cable, 1 m", Price: 1980},
	{SKU: "screen-protector-2pk", NameJA: "保護フィルム 2枚入り", NameEN: "Screen protector, 2 pack", Price: 1580},
	{SKU: "gift-card-5000", NameJA: "ギフトカード 5,000円", NameEN: "Gift card, ¥5,000", Price: 5000},
}

// ProductBySKU returns the product with sku.
func ProductBySKU(sku string) (Product, bool) {
	i := slices.IndexFunc(Catalog, func(p Product) bool { return p.SKU == sku })
	if i < 0 {
		return Product{}, false
	}
	return Catalog[i], true
}

// PickupStore is a convenience store where an order can be collected.
type PickupStore struct {
	ID   string
	Name string
}

// PickupStores are the convenience stores that hand over orders.
var PickupStores = []PickupStore{
	{"fm-shinjuku-nishiguchi", "ファミリーマート 新宿西口店 / FamilyMart Shinjuku West Exit"},
	{"sej-shibuya-center", "セブン-イレブン 渋谷センター街店 / 7-Eleven Shibuya Center-gai"},
	{"law-umeda-chaya", "ローソン 梅田茶屋町店 / Lawson Umeda Chayamachi"},
	{"fm-sakae-3", "ファミリーマート 栄三丁目店 / FamilyMart Sakae 3-chome"},
	{"sej-hakata-ekimae", "セブン-イレブン 博多駅前店 / 7-Eleven Hakata Ekimae"},
}

func pickupStore(id string) (PickupStore, bool) {
	i := slices.IndexFunc(PickupStores, func(p PickupStore) bool { return p.ID == id })
	if i < 0 {
		return PickupStore{}, false
	}
	return PickupStores[i], true
}

// Delivery and payment methods (the values of properties.order sent to
// the guard).
const (
	DeliveryHome     = "home"
	DeliveryKonbini  = "convenience_store"
	PayCard          = "credit_card"
	PayCarrier       = "carrier_billing"
	PayKonbini       = "convenience_store"
	StatusAccepted   = "accepted"
	StatusHeld       = "held"
	StatusRefused    = "refused"
	StatusNeedsStep  = "needs_step_up"
	maxCartQuantity  = 5
	maxLoginLength   = 320
	maxPasswordBytes = 1024
	minPasswordRunes = 8
)

var paymentLabels = map[string]string{
	PayCard:    "クレジットカード / Credit card",
	PayCarrier: "キャリア決済 / Carrier billing",
	PayKonbini: "コンビニ払い / Pay at a convenience store",
}

var deliveryLabels = map[string]string{
	DeliveryHome:    "ご自宅へ配送 / Home delivery",
	DeliveryKonbini: "コンビニ受け取り / Convenience-store pickup",
}
