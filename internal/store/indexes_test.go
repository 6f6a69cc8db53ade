package store_test

import (
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/store"
)

// TestForeignKeysAreIndexed checks that every foreign key's columns lead
// some index (a primary key counts) of their table, on both databases.
// Without one, deleting a referenced row (an account, a user, a key) scans
// the referencing table for its ON DELETE, and looking rows up by their
// owner does too: sessions.account_id was such a column.
func TestForeignKeysAreIndexed(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *store.DB) {
		fks, indexes := foreignKeysAndIndexes(t, db)
		if len(fks) == 0 {
			t.Fatal("no foreign keys found: the catalog query is wrong")
		}
		for _, fk := range fks {
			covered := slices.ContainsFunc(indexes[fk.table], func(cols []string) bool {
				return len(cols) >= len(fk.cols) && slices.Equal(cols[:len(fk.cols)], fk.cols)
			})
			if !covered && !strings.HasPrefix(fk.table, "river_") {
				t.Errorf("%s (%s) references another table and leads no index", fk.table, strings.Join(fk.cols, ", "))
			}
		}
	})
}

type foreignKey struct {
	table string
	cols  []string
}

// foreignKeysAndIndexes reads the schema's foreign keys and, per table,
// the column lists of its indexes (primary keys and unique constraints
// included).
func foreignKeysAndIndexes(t *testing.T, db *store.DB) ([]foreignKey, map[string][][]string) {
	t.Helper()
	rows := func(q string, args ...any) [][]string {
		t.Helper()
		r, err := db.SQL().Query(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		cols, _ := r.Columns()
		var out [][]string
		for r.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := make([]string, len(cols))
			for i, v := range vals {
				row[i] = v.String
			}
			out = append(out, row)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	indexes := map[string][][]string{}
	var fks []foreignKey
	if db.Postgres() {
		for _, r := range rows(`SELECT c.conrelid::regclass::text, string_agg(a.attname, ',' ORDER BY k.n)
FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace GROUP BY c.oid, c.conrelid`) {
			fks = append(fks, foreignKey{r[0], strings.Split(r[1], ",")})
		}
		for _, r := range rows(`SELECT i.indrelid::regclass::text, string_agg(a.attname, ',' ORDER BY k.n)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid AND c.relnamespace = 'public'::regnamespace
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum GROUP BY i.indexrelid, i.indrelid`) {
			indexes[r[0]] = append(indexes[r[0]], strings.Split(r[1], ","))
		}
		return fks, indexes
	}
	for _, tr := range rows(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`) {
		table := tr[0]
		byID := map[string][]string{}
		var ids []string
		// foreign_key_list: id, seq, table, from, to, ...
		for _, r := range rows(`SELECT id, "from" FROM pragma_foreign_key_list(?) ORDER BY id, seq`, table) {
			if _, ok := byID[r[0]]; !ok {
				ids = append(ids, r[0])
			}
			byID[r[0]] = append(byID[r[0]], r[1])
		}
		for _, id := range ids {
			fks = append(fks, foreignKey{table, byID[id]})
		}
		for _, ir := range rows(`SELECT name FROM pragma_index_list(?)`, table) {
			var cols []string
			for _, c := range rows(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, ir[0]) {
				cols = append(cols, c[0])
			}
			indexes[table] = append(indexes[table], cols)
		}
		// A rowid table's INTEGER PRIMARY KEY is no index of the list.
		for _, r := range rows(`SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table) {
			indexes[table] = append(indexes[table], []string{r[0]})
		}
	}
	return fks, indexes
}
