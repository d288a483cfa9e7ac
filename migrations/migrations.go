// Package migrations holds crmedge's schema as numbered SQL files, embedded in
// the binary so a copied binary can create and upgrade its own database.
package migrations

import "embed"

// FS holds NNNN_name.up.sql / NNNN_name.down.sql pairs, as golang-migrate's
// iofs source reads them.
//
//go:embed *.sql
var FS embed.FS
