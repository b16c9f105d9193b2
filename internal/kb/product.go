package kb

// Product is one product of a knowledge base's catalog, read from the metadata of its
// current catalog document (ingest writes one document per product, its external id
// "sku:<SKU>"): the well-known fields lifted out, every other column under Attributes.
type Product struct {
	DocumentID int64          `json:"document_id"`
	ExternalID string         `json:"external_id"`
	SKU        string         `json:"sku"`
	Name       string         `json:"name"`
	Price      *float64       `json:"price"` // nil when the catalog had no number ("面议")
	Stock      *int64         `json:"stock"` // nil when the catalog had no whole number ("有货")
	Category   string         `json:"category,omitempty"`
	Brand      string         `json:"brand,omitempty"`
	Status     string         `json:"status"`
	SourceName string         `json:"source_name"`
	Attributes map[string]any `json:"attributes"`
}
