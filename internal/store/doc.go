// Package store is Keyhold's only user of gorm and of SQL drivers. Open
// picks pure-Go SQLite or PostgreSQL from the database URL, Migrate applies
// the embedded migrations, and one file per entity implements the small
// Store interfaces the business packages declare (auth.Store, …), mapping
// unexported records to their domain types.
//
// Lookups that find nothing return the owning package's ErrNotFound;
// every other error is wrapped with a "store:" prefix.
package store
