package api

// ListParams are the paging parameters of every list (DESIGN "Lists"):
// newest first, limit items after the item starting_after.
type ListParams struct {
	Limit         int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"How many items to return, 1 to 100."`
	StartingAfter string `query:"starting_after" maxLength:"64" doc:"The id of the last item of the previous page: the page starts after it. Empty: the newest items."`
}

// List is one page of a list.
type List[T any] struct {
	Object  string `json:"object" enum:"list" doc:"Always list."`
	Data    []T    `json:"data" nullable:"false" doc:"The items, newest first."`
	HasMore bool   `json:"has_more" doc:"Whether more items follow: ask again with starting_after the last item's id."`
}

// ListOutput is a list operation's answer.
type ListOutput[T any] struct {
	Body List[T]
}

// page makes the answer of a list from the items a store returned for
// limit+1 (the one past the page says that more follow).
func page[T any](items []T, limit int) *ListOutput[T] {
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	if items == nil {
		items = []T{}
	}
	return &ListOutput[T]{Body: List[T]{Object: "list", Data: items, HasMore: more}}
}
