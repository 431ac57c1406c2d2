package prefect

import (
	"context"
	"fmt"
	"maps"
)

// pageSize is the server's default and maximum limit
// (PREFECT_SERVER_API_DEFAULT_LIMIT); a larger limit is a 422.
const pageSize = 200

// maxPages stops a server that ignores "offset" from paging forever.
const maxPages = 10_000

// listAll sends a read-only filter POST page by page (limit, offset) until a
// page comes back short, so reading N objects costs ceil((N+1)/200) requests.
func listAll[T any](ctx context.Context, c *Client, cl call, filter map[string]any) ([]T, error) {
	cl.retry = true // a filter POST reads only
	var all []T
	for page := 0; page < maxPages; page++ {
		body := map[string]any{"limit": pageSize, "offset": page * pageSize}
		maps.Copy(body, filter)
		cl.body = body
		var items []T
		if err := c.do(ctx, cl, &items); err != nil {
			return nil, err
		}
		all = append(all, items...)
		if len(items) < pageSize {
			return all, nil
		}
	}
	return nil, fmt.Errorf("%s %s: more than %d pages; the server seems to ignore the offset", cl.op, cl.obj, maxPages)
}
