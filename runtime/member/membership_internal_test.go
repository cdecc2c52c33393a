package member

import (
	"context"
	"errors"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func memberList(names ...string) *clientv3.MemberListResponse {
	r := &clientv3.MemberListResponse{}
	for i, n := range names {
		r.Members = append(r.Members, &pb.Member{ID: uint64(i + 1), Name: n})
	}
	return r
}

// The member a serializable list comes from may not have applied the latest
// change yet (CI once listed a member removed a moment before): a name missing
// from it is looked up again in a linearizable list before it is called
// unknown, and the error then names the members the cluster has now.
func TestLookupMemberAsksTheQuorumBeforeSayingNoSuchMember(t *testing.T) {
	stale := memberList("m1", "m2", "m3")
	now := memberList("m1", "m2", "m4")
	calls := 0
	fresh := func(ctx context.Context) (*clientv3.MemberListResponse, error) {
		calls++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the linearizable list is asked without a deadline")
		}
		return now, nil
	}

	if list, m := lookupMember(context.Background(), stale, "m2", fresh); m == nil || m.Name != "m2" || list != stale || calls != 0 {
		t.Fatalf("a name in the serializable list: %v, %v after %d linearizable calls; want m2 from it, no call", list, m, calls)
	}
	if list, m := lookupMember(context.Background(), stale, "m4", fresh); m == nil || m.Name != "m4" || list != now {
		t.Fatalf("a member added a moment ago: %v, %v; want m4 from the linearizable list", list, m)
	}
	if list, m := lookupMember(context.Background(), stale, "m9", fresh); m != nil || memberNames(list.Members) != "m1, m2, m4" {
		t.Fatalf("an unknown name: %v, members %s; want none, the linearizable list's m1, m2, m4", m, memberNames(list.Members))
	}
	noQuorum := func(context.Context) (*clientv3.MemberListResponse, error) {
		return nil, errors.New("context deadline exceeded")
	}
	if list, m := lookupMember(context.Background(), stale, "m9", noQuorum); m != nil || list != stale {
		t.Fatalf("no quorum: %v, %v; want no member and the serializable list kept", list, m)
	}
}
