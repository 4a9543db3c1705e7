package metadata_test

import (
	"errors"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
)

func TestPageTokenRoundTrip(t *testing.T) {
	c := metadata.Cursor{CreatedAt: time.Date(2026, 11, 27, 7, 0, 0, 123456789, time.UTC), ID: "0196f3a2-7b7e-7c3a-9d1e-0123456789ab"}
	got, err := metadata.DecodePageToken(metadata.EncodePageToken(c))
	if err != nil || !got.CreatedAt.Equal(c.CreatedAt) || got.ID != c.ID {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "!!!", "djE", "djEuMTIzLg", "djIuMS5h", string(make([]byte, 300))} {
		if _, err := metadata.DecodePageToken(bad); !errors.Is(err, metadata.ErrInvalidArgument) {
			t.Errorf("DecodePageToken(%.20q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

func TestPageSize(t *testing.T) {
	for in, want := range map[int]int{-1: 50, 0: 50, 1: 1, 500: 500, 501: 500} {
		if got := metadata.PageSize(in); got != want {
			t.Errorf("PageSize(%d) = %d, want %d", in, got, want)
		}
	}
}

func FuzzDecodePageToken(f *testing.F) {
	f.Add(metadata.EncodePageToken(metadata.Cursor{CreatedAt: time.Unix(1, 2), ID: "x"}))
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := metadata.DecodePageToken(tok)
		if err != nil {
			if !errors.Is(err, metadata.ErrInvalidArgument) {
				t.Fatalf("error %v is not ErrInvalidArgument", err)
			}
			return
		}
		if c.ID == "" {
			t.Fatal("accepted a token without an id")
		}
	})
}
