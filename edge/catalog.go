package edge

// Product is what an accumulation code is printed on; Score is the points one
// code of it earns.
type Product struct {
	ID    string
	Code  string
	Name  string
	Score int64
}

// AccumulationCode is a code printed on one product unit. It can be spent once,
// ever; UsedBy is the ledger entry that spent it.
type AccumulationCode struct {
	Code        string
	ProductCode string
	Serial      string
	UsedBy      string
}

// Gift is what points are redeemed for; Score is what it costs.
type Gift struct {
	ID    string
	Code  string
	Name  string
	Score int64
}

// Catalog kinds, as named by `crmedge import KIND` and `PUT /admin/v1/KIND`.
const (
	CatalogProducts = "products"
	CatalogCodes    = "codes"
	CatalogGifts    = "gifts"
)

// CatalogBatch is a set of catalog rows of one kind, upserted together.
type CatalogBatch struct {
	Products []Product
	Codes    []AccumulationCode
	Gifts    []Gift
	lines    []int32 // per row, the file line it was read from; for error messages
	fromJSON bool    // rows are JSON items (numbered from 1 in messages)
}

// Len is the number of rows in the batch.
func (b *CatalogBatch) Len() int { return len(b.Products) + len(b.Codes) + len(b.Gifts) }
