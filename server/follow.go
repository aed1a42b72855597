//go:build !wasm

package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"pushstart/api"
	"pushstart/internal/httpjson"
	"pushstart/localpush"
	"pushstart/push"
	"pushstart/server/store"
)

// The admin console's view of the subscriptions and of the delivery log:
// how many by push service, browser and tag, a page of them, deleting one,
// and the log filtered by broadcast, outcome and push service.

// defaultPageLimit is how many subscriptions or deliveries a page holds when
// the request does not say; maxListLimit bounds what it may say.
const defaultPageLimit = 50

// serviceHost ties a push service host to its api.Service* key: an exact
// host, or, when it begins with ".", a domain suffix.
type serviceHost struct {
	host    string // lower case, as store.EndpointHost writes hosts
	service string
}

// pushServiceHosts are the push services' hosts: those the allowlist
// accepts (defaultPushHosts), each with its service. No two rules match one
// host, which makes hostFilter the exact inverse of serviceOf.
var pushServiceHosts = func() []serviceHost {
	var rules []serviceHost
	for _, r := range defaultPushHosts {
		rules = append(rules, serviceHost{r.host, r.service})
	}
	return rules
}()

// serviceHosts are the rules for this server: in local mode the local push
// service's own host is ServiceLocal, and so are the FCM hosts its
// Transport reroutes there (Chromium's endpoints keep their FCM host).
func (s *Server) serviceHosts() []serviceHost {
	if s.local == nil {
		return pushServiceHosts
	}
	rules := []serviceHost{{store.EndpointHost(s.local.EndpointPrefix()), api.ServiceLocal}}
	for _, r := range pushServiceHosts {
		if localpush.Reroutes(r.host) {
			r.service = api.ServiceLocal
		}
		rules = append(rules, r)
	}
	return rules
}

// serviceOf names the push service of host (as store.EndpointHost writes
// it): an api.Service* key, ServiceOther for a host of PUSH_ALLOWED_HOSTS or
// any other.
func (s *Server) serviceOf(host string) string {
	for _, r := range s.serviceHosts() {
		if r.host == host || (strings.HasPrefix(r.host, ".") && strings.HasSuffix(host, r.host)) {
			return r.service
		}
	}
	return api.ServiceOther
}

// hostFilter narrows f to the deliveries whose host serviceOf names
// service: its rules' hosts and suffixes, or, for ServiceOther, none of
// anyone's. It reports false when service has no host on this server (local,
// when the local push service is off): then no delivery is of it.
func (s *Server) hostFilter(service string, f *store.DeliveryFilter) bool {
	for _, r := range s.serviceHosts() {
		exact, suffix := &f.Hosts, &f.HostSuffixes
		switch {
		case service == api.ServiceOther:
			exact, suffix = &f.ExcludeHosts, &f.ExcludeSuffixes
		case r.service != service:
			continue
		}
		if strings.HasPrefix(r.host, ".") {
			*suffix = append(*suffix, r.host)
		} else {
			*exact = append(*exact, r.host)
		}
	}
	return service == api.ServiceOther || len(f.Hosts) > 0 || len(f.HostSuffixes) > 0
}

// sortedCounts is the breakdown of n in the store's order (store.SortCounts).
func sortedCounts(n map[string]int) []api.Count {
	kcs := make([]store.KeyCount, 0, len(n))
	for k, c := range n {
		kcs = append(kcs, store.KeyCount{Key: k, Count: c})
	}
	store.SortCounts(kcs)
	out := make([]api.Count, len(kcs))
	for i, kc := range kcs {
		out[i] = api.Count{Key: kc.Key, Count: kc.Count}
	}
	return out
}

// handleSubscriptionStats answers how many subscriptions there are, by push
// service, browser and tag.
func (s *Server) handleSubscriptionStats(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	st, err := s.store.SubscriptionStats(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	services, browsers, tags := map[string]int{}, map[string]int{}, map[string]int{}
	for _, h := range st.ByHost {
		services[s.serviceOf(h.Key)] += h.Count
	}
	for _, ua := range st.ByUserAgent {
		browsers[browserOf(ua.Key)] += ua.Count
	}
	for _, t := range st.ByTag {
		tags[t.Key] += t.Count
	}
	httpjson.Write(w, http.StatusOK, api.SubscriptionStats{
		Total:     st.Total,
		ByService: sortedCounts(services),
		ByBrowser: sortedCounts(browsers),
		ByTag:     sortedCounts(tags),
	})
}

// pageQuery reads a page's limit (1 to maxListLimit, defaultPageLimit when
// absent) and before (a positive ID, 0 when absent) from q.
func pageQuery(q url.Values) (limit int, before int64, err error) {
	if limit, err = listLimit(q, defaultPageLimit); err != nil {
		return 0, 0, err
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return 0, 0, badField("before", "before must be a positive id, as the last page's next gave it")
		}
		before = n
	}
	return limit, before, nil
}

// handleSubscriptionPage answers a page of subscriptions, newest first,
// each named by its endpoint's fingerprint, never by the endpoint.
func (s *Server) handleSubscriptionPage(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	limit, before, err := pageQuery(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// One more than asked tells whether there is a next page.
	rows, err := s.store.SubscriptionPage(r.Context(), before, limit+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := api.SubscriptionPage{Subscriptions: make([]api.SubscriptionInfo, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		out.Next = strconv.FormatInt(rows[limit-1].ID, 10)
	}
	for _, row := range rows {
		out.Subscriptions = append(out.Subscriptions, api.SubscriptionInfo{
			ID:           row.ID,
			EndpointHash: push.Fingerprint(row.Endpoint),
			Host:         row.Host,
			Service:      s.serviceOf(row.Host),
			Browser:      browserOf(row.UserAgent),
			UserAgent:    row.UserAgent,
			UserID:       row.UserID,
			Tags:         append([]string{}, row.Tags...),
			CreatedAt:    row.CreatedAt,
			LastSuccess:  row.LastSuccess,
			LastFailure:  row.LastFailure,
		})
	}
	httpjson.Write(w, http.StatusOK, out)
}

// handleSubscriptionDelete removes one subscription by its ID: 204, or 404
// when there is none.
func (s *Server) handleSubscriptionDelete(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.writeError(w, r, badField("id", "id must be a subscription's id, a positive whole number"))
		return
	}
	deleted, err := s.store.DeleteSubscription(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !deleted {
		s.writeError(w, r, &apiError{Status: http.StatusNotFound, Message: "no subscription has this id"})
		return
	}
	s.log.Info("subscription deleted by the admin", "id", id)
	w.WriteHeader(http.StatusNoContent)
}

// pushOutcomes are the outcomes the delivery log records.
var pushOutcomes = []push.Outcome{push.Sent, push.Gone, push.Failed, push.Rejected, push.Unauthorized}

// deliveryFilter reads the delivery log's filters from q, and the page's
// limit; none is true when the filters choose nothing whatever the log holds.
func (s *Server) deliveryFilter(q url.Values) (f store.DeliveryFilter, limit int, none bool, err error) {
	limit, before, err := pageQuery(q)
	if err != nil {
		return store.DeliveryFilter{}, 0, false, err
	}
	f = store.DeliveryFilter{Before: before, Limit: limit + 1}
	if f.BroadcastID = q.Get("broadcast"); len(f.BroadcastID) > store.MaxBroadcastID {
		return store.DeliveryFilter{}, 0, false, badField("broadcast", fmt.Sprintf("broadcast must be a broadcast id, at most %d characters", store.MaxBroadcastID))
	}
	if o := q.Get("outcome"); o != "" {
		if !slices.Contains(pushOutcomes, push.Outcome(o)) {
			return store.DeliveryFilter{}, 0, false, badField("outcome", fmt.Sprintf("outcome must be one of %s", joinQuoted(pushOutcomes)))
		}
		f.Outcome = o
	}
	if svc := q.Get("service"); svc != "" {
		if !slices.Contains(api.Services, svc) {
			return store.DeliveryFilter{}, 0, false, badField("service", fmt.Sprintf("service must be one of %s", joinQuoted(api.Services)))
		}
		none = !s.hostFilter(svc, &f)
	}
	return f, limit, none, nil
}

// joinQuoted lists values for an error message: "a", "b", "c".
func joinQuoted[T ~string](values []T) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(string(v))
	}
	return strings.Join(quoted, ", ")
}

// handleDeliveries answers a page of the delivery log, newest first, with
// the filters the request gives.
func (s *Server) handleDeliveries(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	f, limit, none, err := s.deliveryFilter(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var ds []store.Delivery
	if !none {
		if ds, err = s.store.FindDeliveries(r.Context(), f); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	out := api.DeliveryPage{Deliveries: make([]api.DeliveryInfo, 0, min(len(ds), limit))}
	if len(ds) > limit {
		ds = ds[:limit]
		out.Next = strconv.FormatInt(ds[limit-1].ID, 10)
	}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, api.DeliveryInfo{
			ID:           d.ID,
			BroadcastID:  d.BroadcastID,
			EndpointHash: d.EndpointHash,
			Host:         d.Host,
			Service:      s.serviceOf(d.Host),
			Outcome:      d.Outcome,
			Status:       d.Status,
			Attempts:     d.Attempts,
			Error:        d.Error,
			At:           d.At,
		})
	}
	httpjson.Write(w, http.StatusOK, out)
}
