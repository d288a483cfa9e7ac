package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"crmedge/migrations"

	"github.com/golang-migrate/migrate/v4"
	msqlite "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// newMigrate wraps an open database in golang-migrate with the embedded
// migrations as its source.
func newMigrate(db *sql.DB) (*migrate.Migrate, error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations source: %w", err)
	}
	drv, err := msqlite.WithInstance(db, &msqlite.Config{})
	if err != nil {
		return nil, fmt.Errorf("migrations driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite", drv)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return m, nil
}

// latestVersion is the highest migration this binary carries.
func latestVersion() (uint, error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return 0, err
	}
	v, err := src.First()
	if err != nil {
		return 0, err
	}
	for {
		next, err := src.Next(v)
		if err != nil {
			return v, nil //nolint:nilerr // no next: v is the last
		}
		v = next
	}
}

// migrateUp brings the schema to this binary's version. A database written by
// a newer crmedge is refused rather than mangled.
func migrateUp(db *sql.DB) error {
	m, err := newMigrate(db)
	if err != nil {
		return err
	}
	cur, dirty, err := m.Version()
	if err != nil && !errors.Is(err, migrate.ErrNilVersion) {
		return fmt.Errorf("schema version: %w", err)
	}
	if dirty {
		return fmt.Errorf("schema version %d is dirty: a migration failed half-way; restore a backup", cur)
	}
	latest, err := latestVersion()
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if cur > latest {
		return fmt.Errorf("the database is at schema version %d, newer than this crmedge (%d): use a newer crmedge", cur, latest)
	}
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// Migrate runs a migrate command (up, down, version) on the database at path
// and returns the resulting version.
func Migrate(path, cmd string) (version uint, dirty bool, err error) {
	db, err := sql.Open("sqlite", dsn(path, writePragmas("FULL")...))
	if err != nil {
		return 0, false, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	switch cmd {
	case "up":
		if err := migrateUp(db); err != nil {
			return 0, false, err
		}
	case "down":
		m, err := newMigrate(db)
		if err != nil {
			return 0, false, err
		}
		if err := m.Steps(-1); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return 0, false, fmt.Errorf("migrate down: %w", err)
		}
	case "version":
	default:
		return 0, false, fmt.Errorf("unknown migrate command %q (up, down, version)", cmd)
	}
	m, err := newMigrate(db)
	if err != nil {
		return 0, false, err
	}
	v, d, err := m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	return v, d, err
}
