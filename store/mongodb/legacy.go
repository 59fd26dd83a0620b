package mongodb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/toktok/toktok/store"
)

// LegacySource reads the users collection of the original Flask service, for
// `toktok import`. It only reads: nothing is written to the source database.
type LegacySource struct {
	client *mongo.Client
	coll   *mongo.Collection
}

// OpenLegacy connects to the MongoDB server of uri, whose path must name the original
// service's database, and checks that it answers. Its errors say which hosts were tried
// and never print the URI's credentials, as Open's.
func OpenLegacy(ctx context.Context, uri, collection string) (*LegacySource, error) {
	if !strings.HasPrefix(uri, "mongodb://") && !strings.HasPrefix(uri, "mongodb+srv://") {
		return nil, errors.New("the source URI must start with mongodb:// or mongodb+srv://")
	}
	db, err := uriDatabase(uri)
	if err != nil {
		return nil, err
	}
	if db == "" {
		return nil, errors.New("the source URI must name the original service's database in its path: mongodb://HOST/DATABASE")
	}
	if collection == "" {
		return nil, errors.New("the source collection name is empty")
	}
	copts := options.Client().
		SetServerSelectionTimeout(defaultServerSelectionTimeout).
		SetConnectTimeout(defaultConnectTimeout).
		ApplyURI(uri)
	client, err := mongo.Connect(copts)
	if err != nil {
		if derr := dnsFailure(err); derr != nil {
			return nil, derr
		}
		return nil, malformed(uri, err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, unreachable(fmt.Errorf("%w: %w", store.ErrUnavailable, err), copts)
	}
	return &LegacySource{client: client, coll: client.Database(db).Collection(collection)}, nil
}

// Name is DATABASE.COLLECTION.
func (s *LegacySource) Name() string { return s.coll.Database().Name() + "." + s.coll.Name() }

// Estimate is the collection's document count from its metadata (no scan), for progress.
func (s *LegacySource) Estimate(ctx context.Context) (int64, error) {
	n, err := s.coll.EstimatedDocumentCount(ctx)
	return n, mapErr("count the source documents", err)
}

// Each calls fn with every document of the collection, in _id order, until fn returns an
// error (returned as is). A document that is not shaped as expected comes with Problem set.
func (s *LegacySource) Each(ctx context.Context, fn func(store.LegacyUser) error) error {
	cur, err := s.coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(500))
	if err != nil {
		return mapErr("read the source documents", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		if err := fn(DecodeLegacyUser(cur.Current)); err != nil {
			return err
		}
	}
	return mapErr("read the source documents", cur.Err())
}

// Close disconnects from the source server.
func (s *LegacySource) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil && !errors.Is(err, mongo.ErrClientDisconnected) {
		return fmt.Errorf("mongodb: close the source: %w", err)
	}
	return nil
}

// DecodeLegacyUser reads one document of the original service's users collection. Fields
// of the wrong type give a Problem naming the field and the type it held; values are never
// quoted in a Problem.
func DecodeLegacyUser(doc bson.Raw) store.LegacyUser {
	var u store.LegacyUser
	if err := doc.Validate(); err != nil {
		u.Problem = "not a valid BSON document"
		return u
	}
	if id, err := doc.LookupErr("_id"); err == nil {
		u.SourceID = idText(id)
	}
	problem := func(format string, args ...any) store.LegacyUser {
		u.Problem = fmt.Sprintf(format, args...)
		return u
	}
	if p := legacyStrings(doc, &u); p != "" {
		return problem("%s", p)
	}
	if p := legacyBools(doc, &u); p != "" {
		return problem("%s", p)
	}
	if v, ok := lookup(doc, []string{"log", "login_count"}); ok {
		n, isInt := integer(v)
		if !isInt || n < 0 || n > math.MaxInt32 {
			return problem("log.login_count: %s, want a whole number from 0", typeName(v.Type))
		}
		u.LoginCount = int(n)
	}
	if v, ok := lookup(doc, []string{"log", "created_at"}); ok {
		t, err := legacyTime(v)
		if err != nil {
			return problem("log.created_at: %v", err)
		}
		u.CreatedAt = &t
	}
	if v, ok := lookup(doc, []string{"u_data"}); ok {
		d, isDoc := v.DocumentOK()
		if !isDoc {
			return problem("u_data: %s, want a document", typeName(v.Type))
		}
		m, err := jsonObject(d)
		if err != nil {
			return problem("u_data: %v", err)
		}
		u.Data = m
	}
	return u
}

// legacyStrings reads the string fields into u; a Problem when one is of another type.
func legacyStrings(doc bson.Raw, u *store.LegacyUser) string {
	for _, f := range []struct {
		path []string
		dst  **string
	}{
		{[]string{"infos", "email"}, &u.Email},
		{[]string{"infos", "name"}, &u.Name},
		{[]string{"infos", "surname"}, &u.Surname},
		{[]string{"infos", "pseudo"}, &u.Pseudo},
		{[]string{"auth", "pwd"}, &u.PasswordHash},
		{[]string{"auth", "role"}, &u.Role},
		{[]string{"profile", "lang"}, &u.Lang},
	} {
		v, ok := lookup(doc, f.path)
		if !ok {
			continue
		}
		s, isString := v.StringValueOK()
		if !isString {
			return fmt.Sprintf("%s: %s, want a string", strings.Join(f.path, "."), typeName(v.Type))
		}
		*f.dst = &s
	}
	return ""
}

// legacyBools reads the flags into u: booleans, or 0 and 1 as Python code sometimes
// stored them; a Problem otherwise.
func legacyBools(doc bson.Raw, u *store.LegacyUser) string {
	for _, f := range []struct {
		path []string
		dst  *bool
	}{
		{[]string{"auth", "conf_usr"}, &u.Confirmed},
		{[]string{"auth", "is_blacklisted"}, &u.Blacklisted},
	} {
		v, ok := lookup(doc, f.path)
		if !ok {
			continue
		}
		b, isBool := v.BooleanOK()
		if !isBool {
			n, isInt := integer(v)
			if !isInt || (n != 0 && n != 1) {
				return fmt.Sprintf("%s: %s, want a boolean", strings.Join(f.path, "."), typeName(v.Type))
			}
			b = n == 1
		}
		*f.dst = b
	}
	return ""
}

// lookup returns the value at path, not found for a missing field or a null. A parent that
// is not a document counts as missing here and is caught by the fields read from it.
func lookup(doc bson.Raw, path []string) (bson.RawValue, bool) {
	v, err := doc.LookupErr(path...)
	if err != nil || v.Type == bson.TypeNull || v.Type == bson.TypeUndefined {
		return bson.RawValue{}, false
	}
	return v, true
}

// integer reads an int32, an int64 or a whole double.
func integer(v bson.RawValue) (int64, bool) {
	switch v.Type {
	case bson.TypeInt32:
		return int64(v.Int32()), true
	case bson.TypeInt64:
		return v.Int64(), true
	case bson.TypeDouble:
		f := v.Double()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
	}
	return 0, false
}

// legacyTime reads a BSON date (what pymongo writes for a datetime) or an RFC 3339 / ISO
// string.
func legacyTime(v bson.RawValue) (time.Time, error) {
	switch v.Type {
	case bson.TypeDateTime:
		return time.UnixMilli(v.DateTime()).UTC(), nil
	case bson.TypeString:
		s := v.StringValue()
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05.999999", "2006-01-02"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), nil
			}
		}
		return time.Time{}, errors.New("a string that is not a date, want a date")
	}
	return time.Time{}, fmt.Errorf("%s, want a date", typeName(v.Type))
}

// jsonObject converts a BSON document to the values JSON has: ObjectIds become their hex
// text and dates RFC 3339 text; anything else with no JSON form is refused.
func jsonObject(d bson.Raw) (map[string]any, error) {
	elems, err := d.Elements()
	if err != nil {
		return nil, errors.New("not a valid document")
	}
	m := make(map[string]any, len(elems))
	for _, e := range elems {
		v, err := jsonValue(e.Value())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Key(), err)
		}
		m[e.Key()] = v
	}
	return m, nil
}

func jsonValue(v bson.RawValue) (any, error) {
	switch v.Type {
	case bson.TypeNull, bson.TypeUndefined:
		return nil, nil
	case bson.TypeString:
		return v.StringValue(), nil
	case bson.TypeBoolean:
		return v.Boolean(), nil
	case bson.TypeInt32:
		return int64(v.Int32()), nil
	case bson.TypeInt64:
		return v.Int64(), nil
	case bson.TypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errors.New("NaN or infinite number, which JSON cannot hold")
		}
		return f, nil
	case bson.TypeObjectID:
		return v.ObjectID().Hex(), nil
	case bson.TypeDateTime:
		return time.UnixMilli(v.DateTime()).UTC().Format(time.RFC3339Nano), nil
	case bson.TypeEmbeddedDocument:
		return jsonObject(v.Document())
	case bson.TypeArray:
		vals, err := v.Array().Values()
		if err != nil {
			return nil, errors.New("not a valid array")
		}
		out := make([]any, len(vals))
		for i, x := range vals {
			if out[i], err = jsonValue(x); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s, which JSON cannot hold", typeName(v.Type))
}

// idText names a document in reports: an ObjectId's hex, a string as is, anything else by
// its extended JSON.
func idText(v bson.RawValue) string {
	switch v.Type {
	case bson.TypeObjectID:
		return v.ObjectID().Hex()
	case bson.TypeString:
		return v.StringValue()
	}
	return v.String()
}

// typeName names a BSON type as a reader of the collection knows it.
func typeName(t bson.Type) string {
	switch t {
	case bson.TypeString:
		return "a string"
	case bson.TypeBoolean:
		return "a boolean"
	case bson.TypeInt32, bson.TypeInt64, bson.TypeDouble, bson.TypeDecimal128:
		return "a number"
	case bson.TypeEmbeddedDocument:
		return "a document"
	case bson.TypeArray:
		return "an array"
	case bson.TypeDateTime:
		return "a date"
	case bson.TypeObjectID:
		return "an ObjectId"
	case bson.TypeBinary:
		return "binary data"
	}
	return "a BSON " + t.String()
}
