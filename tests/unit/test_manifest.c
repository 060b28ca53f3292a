/* SPDX-License-Identifier: MIT */
/*
 * test_manifest.c - what a stored manifest references: one table row per
 * document a registry holds (OCI and Docker schema 2 manifests and
 * indexes, OCI artifact manifests, Docker schema 1) and per way a document
 * can be wrong.
 *
 * The contract checked: refs come out config first, then layers, blobs,
 * fsLayers and manifests (whatever the key order in the document), each
 * list in document order; only top-level lists count; only
 * "sha256:<64 lowercase hex>" is a reference; children of an index are
 * flagged is_manifest and nothing else is; a "subject" is not a
 * reference; a document that is not one JSON object without duplicate
 * keys is -EINVAL.
 *
 * Documents are written with ' for " to keep the table readable; the
 * quotes are swapped before parsing, and each document is parsed from a
 * heap copy of exactly its length (no NUL after it), so valgrind and ASan
 * see any read past `len`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taglockfs/manifest.h"

/* Digests: sha256 of their names, so they look like the real thing. */
#define HC "b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910"
#define L1 "2804bad6fe94a55f18b2b37e300919a5fd517b95aa81e95db574c0ba069a3740"
#define L2 "8a1cee436cbac1489a1883c9d886fcfc46f302c55ed4106ae31729e4f4eb9041"
#define L3 "10dacdccfe877dc064d57442e6fa7a4e3085dc94e11a29819c2290fc3d788724"
#define AMD "5861314d7fccb39c2192173240eab44fa35ca66426201ca2acd0630a6258dd51"
#define ARM "f69162950f235e3cdbbad33f1f912d1a504be90d8a37d002c735d6f3e3882265"
#define B1 "8ba0d06bc5a88966b1f681d9cab28709781ad7c450802d0e477132d8919e0cbf"
#define B2 "534d059533cc6a29b0e8747334c6af08619b1b59e6727f50a8094c90f6393282"
#define SUBJ "a9491f4c1bf7b0cffbadcba2db8f028e4b3f2867cb59e1f3a0bc1968f3c51242"
#define FS1 "3f5a0a99ba3b6ff0b6706fe14e20d210a6158b2bd1f910e0b47c288f4ac27e14"
#define FS2 "56c4d2541cec1eb26f15ef258fbea6fa17118b4e5f74fe2a428b8692aea68827"
/* the OCI empty descriptor's digest (the 2 bytes "{}") */
#define EMPTY "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
/* HC with upper-case digits, one digit short and one too many */
#define HC_UP "B79606FB3AFEA5BD1609ED40B622142F1C98125ABCFE89A76A661B0E8E343910"
#define HC_63 "b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e34391"
#define HC_65 HC "0"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_DOCKER_MANIFEST                                                     \
	"application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST                                                         \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* A descriptor: {"mediaType":..., "digest":"sha256:...", "size":...} */
#define DESC(mt, hex, size)                                                    \
	"{'mediaType':'" mt "','digest':'sha256:" hex "','size':" #size "}"

#define MAX_WANT 12

struct want {
	const char *hex; /* NULL ends the list */
	bool is_manifest;
};

struct row {
	const char *what;
	const char *doc; /* ' stands for " */
	size_t len;	 /* 0: strlen(doc) */
	int rc;
	struct want want[MAX_WANT];
};

#define R(h)                                                                   \
	{                                                                      \
		h, false                                                       \
	}
#define M(h)                                                                   \
	{                                                                      \
		h, true                                                        \
	}

/* clang-format off */
static const struct row rows[] = {
	/* Documents a registry really stores. */
	{"OCI image manifest: config, then 3 layers in order",
	 "{'schemaVersion':2,'mediaType':'" MT_OCI_MANIFEST "',"
	 "'config':" DESC(MT_OCI_CONFIG, HC, 7023) ","
	 "'layers':[" DESC(MT_OCI_LAYER, L1, 32654) ","
	 DESC(MT_OCI_LAYER, L2, 16724) "," DESC(MT_OCI_LAYER, L3, 73109) "],"
	 "'annotations':{'org.opencontainers.image.created':"
	 "'2024-05-01T10:00:00Z'}}",
	 0, 0, {R(HC), R(L1), R(L2), R(L3)}},
	{"OCI image manifest, pretty-printed with a trailing newline",
	 "{\n  'schemaVersion': 2,\n  'mediaType': '" MT_OCI_MANIFEST "',\n"
	 "  'config': {\n    'mediaType': '" MT_OCI_CONFIG "',\n"
	 "    'digest': 'sha256:" HC "',\n    'size': 7023\n  },\n"
	 "  'layers': [\n    {\n      'mediaType': '" MT_OCI_LAYER "',\n"
	 "      'digest': 'sha256:" L1 "',\n      'size': 32654\n    }\n"
	 "  ]\n}\n",
	 0, 0, {R(HC), R(L1)}},
	{"Docker schema 2 manifest, with a foreign layer",
	 "{'schemaVersion':2,'mediaType':'" MT_DOCKER_MANIFEST "',"
	 "'config':" DESC(MT_DOCKER_CONFIG, HC, 1469) ","
	 "'layers':[" DESC(MT_DOCKER_LAYER, L1, 2797541) ","
	 "{'mediaType':'application/vnd.docker.image.rootfs.foreign.diff."
	 "tar.gzip','size':1654,'digest':'sha256:" L2 "',"
	 "'urls':['https://mcr.microsoft.com/v2/windows/blobs/sha256:" L2
	 "']}]}",
	 0, 0, {R(HC), R(L1), R(L2)}},
	{"OCI index: every child is a manifest",
	 "{'schemaVersion':2,'mediaType':'" MT_OCI_INDEX "','manifests':["
	 "{'mediaType':'" MT_OCI_MANIFEST "','digest':'sha256:" AMD "',"
	 "'size':1234,'platform':{'architecture':'amd64','os':'linux'}},"
	 "{'mediaType':'" MT_OCI_MANIFEST "','digest':'sha256:" ARM "',"
	 "'size':1235,'platform':{'architecture':'arm64','os':'linux',"
	 "'variant':'v8'}},"
	 "{'mediaType':'" MT_OCI_MANIFEST "','digest':'sha256:" B1 "',"
	 "'size':840,'annotations':{'vnd.docker.reference.type':"
	 "'attestation-manifest','vnd.docker.reference.digest':'sha256:" AMD
	 "'},'platform':{'architecture':'unknown','os':'unknown'}}]}",
	 0, 0, {M(AMD), M(ARM), M(B1)}},
	{"Docker manifest list: every child is a manifest",
	 "{'schemaVersion':2,'mediaType':'" MT_DOCKER_LIST "','manifests':["
	 "{'mediaType':'" MT_DOCKER_MANIFEST "','size':528,"
	 "'digest':'sha256:" ARM "','platform':{'architecture':'arm64',"
	 "'os':'linux'}},"
	 "{'mediaType':'" MT_DOCKER_MANIFEST "','size':528,"
	 "'digest':'sha256:" AMD "','platform':{'architecture':'amd64',"
	 "'os':'linux'}}]}",
	 0, 0, {M(ARM), M(AMD)}},
	{"OCI index with a subject: the subject is not a child",
	 "{'schemaVersion':2,'mediaType':'" MT_OCI_INDEX "',"
	 "'subject':" DESC(MT_OCI_INDEX, SUBJ, 700) ","
	 "'manifests':[" DESC(MT_OCI_MANIFEST, AMD, 1234) "]}",
	 0, 0, {M(AMD)}},
	{"OCI artifact manifest: its blobs, not its subject",
	 "{'mediaType':'application/vnd.oci.artifact.manifest.v1+json',"
	 "'artifactType':'application/vnd.example.sbom.v1',"
	 "'blobs':[" DESC("application/spdx+json", B1, 2048) ","
	 DESC("application/vnd.cncf.notary.signature", B2, 1190) "],"
	 "'subject':" DESC(MT_OCI_MANIFEST, SUBJ, 1234) ","
	 "'annotations':{'org.example.sbom.format':'spdx'}}",
	 0, 0, {R(B1), R(B2)}},
	{"OCI image manifest with a subject (a referrer): subject left out",
	 "{'schemaVersion':2,'mediaType':'" MT_OCI_MANIFEST "',"
	 "'artifactType':'application/vnd.example.signature.v1',"
	 "'config':" DESC("application/vnd.oci.empty.v1+json", EMPTY, 2) ","
	 "'layers':[" DESC("application/vnd.example.signature.v1", B1, 512)
	 "],'subject':" DESC(MT_OCI_MANIFEST, SUBJ, 1234) "}",
	 0, 0, {R(EMPTY), R(B1)}},
	{"subject only: nothing",
	 "{'schemaVersion':2,'subject':" DESC(MT_OCI_MANIFEST, SUBJ, 9) "}",
	 0, 0, {{0}}},
	{"Docker schema 1: fsLayers' blobSum in order",
	 "{'schemaVersion':1,'name':'library/app','tag':'v1',"
	 "'architecture':'amd64','fsLayers':[{'blobSum':'sha256:" FS1 "'},"
	 "{'blobSum':'sha256:" FS2 "'}],'history':[{'v1Compatibility':'{}'},"
	 "{'v1Compatibility':'{}'}],'signatures':[{'header':{'alg':'ES256'},"
	 "'signature':'abc','protected':'def'}]}",
	 0, 0, {R(FS1), R(FS2)}},

	/* Each list is read through its own field name. */
	{"fsLayers entries give blobSum, not digest",
	 "{'fsLayers':[{'digest':'sha256:" FS1 "'},"
	 "{'blobSum':'sha256:" FS2 "'}]}",
	 0, 0, {R(FS2)}},
	{"layers, blobs and manifests entries give digest, not blobSum",
	 "{'layers':[{'blobSum':'sha256:" L1 "'}],"
	 "'blobs':[{'blobSum':'sha256:" B1 "'}],"
	 "'manifests':[{'blobSum':'sha256:" AMD "'}],"
	 "'config':{'blobSum':'sha256:" HC "'}}",
	 0, 0, {{0}}},

	/* Only sha256 digests are references. */
	{"sha512 config ignored, sha256 layer kept",
	 "{'config':{'digest':'sha512:" HC HC "'},"
	 "'layers':[{'digest':'sha256:" L1 "'}]}",
	 0, 0, {R(L1)}},
	{"sha512 layer and child ignored",
	 "{'layers':[{'digest':'sha512:" L1 L1 "'}],"
	 "'manifests':[{'digest':'sha512:" AMD AMD "'},"
	 "{'digest':'sha256:" ARM "'}]}",
	 0, 0, {M(ARM)}},
	{"upper-case hex ignored",
	 "{'config':{'digest':'sha256:" HC_UP "'},"
	 "'layers':[{'digest':'sha256:" HC_UP "'},{'digest':'sha256:" L1
	 "'}]}",
	 0, 0, {R(L1)}},
	{"63 hex digits ignored",
	 "{'config':{'digest':'sha256:" HC_63 "'},"
	 "'layers':[{'digest':'sha256:" HC_63 "'}]}",
	 0, 0, {{0}}},
	{"65 hex digits ignored",
	 "{'config':{'digest':'sha256:" HC_65 "'},"
	 "'blobs':[{'digest':'sha256:" HC_65 "'}]}",
	 0, 0, {{0}}},
	{"SHA256 in capitals ignored",
	 "{'config':{'digest':'SHA256:" HC "'}}", 0, 0, {{0}}},
	{"hex without an algorithm ignored",
	 "{'config':{'digest':'" HC "'},'layers':[{'digest':':" L1 "'}]}",
	 0, 0, {{0}}},
	{"a newline after the hex is not a digest",
	 "{'config':{'digest':'sha256:" HC "\\n'},"
	 "'layers':[{'digest':' sha256:" L1 "'}]}",
	 0, 0, {{0}}},
	{"non-hex digit ignored",
	 "{'layers':[{'digest':'sha256:g804bad6fe94a55f18b2b37e300919a5fd51"
	 "7b95aa81e95db574c0ba069a3740'}]}",
	 0, 0, {{0}}},
	{"a digest written with JSON escapes is the same digest",
	 "{'config':{'digest':'\\u0073ha256:" HC "'},"
	 "'layers':[{'digest':'sha256\\u003a" L1 "'}]}",
	 0, 0, {R(HC), R(L1)}},

	/* Missing and wrong-typed fields are skipped, not fatal. */
	{"config as a string is ignored",
	 "{'config':'sha256:" HC "','layers':[{'digest':'sha256:" L1 "'}]}",
	 0, 0, {R(L1)}},
	{"config as an array is ignored",
	 "{'config':[{'digest':'sha256:" HC "'}]}", 0, 0, {{0}}},
	{"layers as an object is ignored",
	 "{'config':{'digest':'sha256:" HC "'},"
	 "'layers':{'digest':'sha256:" L1 "'}}",
	 0, 0, {R(HC)}},
	{"layer entries that are not objects are skipped",
	 "{'layers':['sha256:" L1 "',['sha256:" L2 "'],null,7,true,"
	 "{'digest':'sha256:" L3 "'}]}",
	 0, 0, {R(L3)}},
	{"digests of the wrong type are skipped",
	 "{'config':{'digest':null},'layers':[{'digest':7},{'digest':null},"
	 "{'digest':['sha256:" L1 "']},{'digest':{'sha256':'" L1 "'}},"
	 "{'digest':true},{'size':12},{},{'digest':'sha256:" L2 "'}]}",
	 0, 0, {R(L2)}},
	{"manifests as a string, blobs null, fsLayers a number",
	 "{'manifests':'sha256:" AMD "','blobs':null,'fsLayers':3}",
	 0, 0, {{0}}},
	{"an empty object has no references", "{}", 0, 0, {{0}}},
	{"empty lists have no references",
	 "{'config':{},'layers':[],'blobs':[],'fsLayers':[],'manifests':[]}",
	 0, 0, {{0}}},
	{"only the document's own lists count, not nested ones",
	 "{'digest':'sha256:" SUBJ "',"
	 "'annotations':{'digest':'sha256:" B2 "'},"
	 "'layers':[{'digest':'sha256:" L1 "','config':{'digest':'sha256:"
	 B1 "'},'layers':[{'digest':'sha256:" L2 "'}]}],"
	 "'manifests':[{'digest':'sha256:" AMD "','layers':[{'digest':"
	 "'sha256:" L3 "'}],'manifests':[{'digest':'sha256:" ARM "'}]}]}",
	 0, 0, {R(L1), M(AMD)}},

	/* Order: config, layers, blobs, fsLayers, manifests. */
	{"key order in the document does not change the order of refs",
	 "{'manifests':[{'digest':'sha256:" AMD "'},{'digest':'sha256:" ARM
	 "'}],'fsLayers':[{'blobSum':'sha256:" FS1 "'},{'blobSum':'sha256:"
	 FS2 "'}],'blobs':[{'digest':'sha256:" B2 "'},{'digest':'sha256:" B1
	 "'}],'layers':[{'digest':'sha256:" L3 "'},{'digest':'sha256:" L1
	 "'}],'config':{'digest':'sha256:" HC "'}}",
	 0, 0, {R(HC), R(L3), R(L1), R(B2), R(B1), R(FS1), R(FS2), M(AMD),
		M(ARM)}},

	/* Not one JSON object without duplicate keys: -EINVAL. */
	{"duplicate top-level key",
	 "{'config':{'digest':'sha256:" HC "'},"
	 "'config':{'digest':'sha256:" L1 "'}}",
	 0, -EINVAL, {{0}}},
	{"duplicate layers list",
	 "{'layers':[{'digest':'sha256:" L1 "'}],"
	 "'layers':[{'digest':'sha256:" L2 "'}]}",
	 0, -EINVAL, {{0}}},
	{"duplicate key inside a layer",
	 "{'layers':[{'digest':'sha256:" L1 "','digest':'sha256:" L2 "'}]}",
	 0, -EINVAL, {{0}}},
	{"duplicate key in the annotations",
	 "{'config':{'digest':'sha256:" HC "'},"
	 "'annotations':{'a':'1','a':'2'}}",
	 0, -EINVAL, {{0}}},
	{"not JSON", "this is not a manifest", 0, -EINVAL, {{0}}},
	{"a JSON array of descriptors",
	 "[{'digest':'sha256:" L1 "'}]", 0, -EINVAL, {{0}}},
	{"a JSON string", "'sha256:" L1 "'", 0, -EINVAL, {{0}}},
	{"JSON null", "null", 0, -EINVAL, {{0}}},
	{"a JSON number", "2", 0, -EINVAL, {{0}}},
	{"empty input", "", 0, -EINVAL, {{0}}},
	{"white space only", " \n\t ", 0, -EINVAL, {{0}}},
	{"truncated object",
	 "{'config':{'digest':'sha256:" HC "'}", 0, -EINVAL, {{0}}},
	{"trailing garbage after the object",
	 "{'config':{'digest':'sha256:" HC "'}} x", 0, -EINVAL, {{0}}},
	{"two objects back to back",
	 "{'config':{'digest':'sha256:" HC "'}}{}", 0, -EINVAL, {{0}}},
	{"a NUL byte after the object", "{}\0", 3, -EINVAL, {{0}}},
};
/* clang-format on */

#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* A heap copy of exactly `len` bytes of a row's document, ' made ". */
static char *doc_copy(const char *doc, size_t len)
{
	char *buf = malloc(len ? len : 1);

	assert_non_null(buf);
	memcpy(buf, doc, len);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\'')
			buf[i] = '"';
	}
	return buf;
}

static size_t want_count(const struct row *r)
{
	size_t n = 0;

	while (n < MAX_WANT && r->want[n].hex)
		n++;
	return n;
}

static void show_refs(const char *label, const struct tlk_manifest_refs *got)
{
	print_error("    %s %zu:\n", label, got->count);
	for (size_t i = 0; i < got->count; i++)
		print_error("      %s%s\n", got->refs[i].hex,
			    got->refs[i].is_manifest ? " (manifest)" : "");
}

/* Does `got` hold exactly the row's refs, in order, with their flags? */
static bool refs_match(const struct row *r, const struct tlk_manifest_refs *got)
{
	size_t n = want_count(r);

	if (got->count != n)
		return false;
	if (n > 0 && got->refs == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(got->refs[i].hex, r->want[i].hex) != 0 ||
		    got->refs[i].is_manifest != r->want[i].is_manifest)
			return false;
	}
	return true;
}

static void test_manifest_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NROWS; i++) {
		const struct row *r = &rows[i];
		size_t len = r->len ? r->len : strlen(r->doc);
		char *buf = doc_copy(r->doc, len);
		struct tlk_manifest_refs got;
		int rc;

		memset(&got, 0x5a, sizeof(got));
		rc = tlk_manifest_refs(buf, len, &got);
		if (rc == r->rc &&
		    (rc == 0 ? refs_match(r, &got) : got.count == 0)) {
			tlk_manifest_refs_free(&got);
			free(buf);
			continue;
		}
		print_error("row %zu \"%s\": want rc %d and %zu refs, "
			    "got rc %d\n",
			    i, r->what, r->rc, want_count(r), rc);
		if (rc == 0)
			show_refs("got", &got);
		else
			print_error("    got count %zu\n", got.count);
		print_error("    want:\n");
		for (size_t j = 0; j < want_count(r); j++)
			print_error("      %s%s\n", r->want[j].hex,
				    r->want[j].is_manifest ? " (manifest)"
							   : "");
		if (rc == 0)
			tlk_manifest_refs_free(&got);
		free(buf);
		bad++;
	}
	assert_int_equal(bad, 0);
}

/* Each row has its own name, and every digest it expects is well formed,
 * so a failure points at one row and not at a typo in the table. */
static void test_table_is_sound(void **state)
{
	(void)state;
	for (size_t i = 0; i < NROWS; i++) {
		assert_true(strlen(rows[i].what) > 0);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(rows[i].what, rows[j].what);
		for (size_t j = 0; j < want_count(&rows[i]); j++) {
			const char *h = rows[i].want[j].hex;

			assert_int_equal(strlen(h), TLK_HEX_LEN);
			assert_int_equal(strspn(h, "0123456789abcdef"),
					 TLK_HEX_LEN);
		}
		if (rows[i].rc != 0)
			assert_int_equal(want_count(&rows[i]), 0);
	}
	assert_int_equal(strlen(HC_63), TLK_HEX_LEN - 1);
	assert_int_equal(strlen(HC_65), TLK_HEX_LEN + 1);
	assert_int_equal(strlen(HC_UP), TLK_HEX_LEN);
}

/* Digest number i as 64 hex digits: distinct for every i. */
static void nth_hex(unsigned i, char out[TLK_HEX_LEN + 1])
{
	snprintf(out, TLK_HEX_LEN + 1, "%08x%056x", i * 2654435761u, i);
}

/* A growing document for the large cases. */
struct doc {
	char *buf;
	size_t len, cap;
};

static void doc_add(struct doc *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void doc_add(struct doc *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	if (d->len + (size_t)n + 1 > d->cap) {
		d->cap = 2 * (d->len + (size_t)n + 1);
		d->buf = realloc(d->buf, d->cap);
		assert_non_null(d->buf);
	}
	va_start(ap, fmt);
	vsnprintf(d->buf + d->len, d->cap - d->len, fmt, ap);
	va_end(ap);
	d->len += (size_t)n;
}

/* A config, 1000 layers and 3 children: the array grows many times over
 * and keeps every ref, in order, with the right flag. */
static void test_thousand_layers(void **state)
{
	const unsigned nlayers = 1000, nchildren = 3;
	struct doc d = {NULL, 0, 0};
	char hex[TLK_HEX_LEN + 1];
	struct tlk_manifest_refs got;

	(void)state;
	nth_hex(0, hex);
	doc_add(&d,
		"{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:%s\"},"
		"\"layers\":[",
		hex);
	for (unsigned i = 1; i <= nlayers; i++) {
		nth_hex(i, hex);
		doc_add(&d,
			"%s{\"mediaType\":\"" MT_OCI_LAYER "\",\"digest\":"
			"\"sha256:%s\",\"size\":%u}",
			i > 1 ? "," : "", hex, i);
	}
	doc_add(&d, "],\"manifests\":[");
	for (unsigned i = 1; i <= nchildren; i++) {
		nth_hex(nlayers + i, hex);
		doc_add(&d, "%s{\"digest\":\"sha256:%s\"}", i > 1 ? "," : "",
			hex);
	}
	doc_add(&d, "]}");

	assert_int_equal(tlk_manifest_refs(d.buf, d.len, &got), 0);
	assert_int_equal(got.count, 1 + nlayers + nchildren);
	for (unsigned i = 0; i < got.count; i++) {
		nth_hex(i, hex);
		assert_string_equal(got.refs[i].hex, hex);
		assert_int_equal(got.refs[i].is_manifest, i > nlayers);
	}
	tlk_manifest_refs_free(&got);
	free(d.buf);
}

/* Exactly `len` bytes are parsed: a document followed by junk is fine
 * when len stops at the document, and a document cut short is not. */
static void test_reads_only_len(void **state)
{
	static const char doc[] = "{\"config\":{\"digest\":\"sha256:" HC "\"}}";
	const size_t n = sizeof(doc) - 1;
	char *buf = malloc(n + 8);
	struct tlk_manifest_refs got;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, doc, n);
	memcpy(buf + n, "garbage!", 8);

	assert_int_equal(tlk_manifest_refs(buf, n, &got), 0);
	assert_int_equal(got.count, 1);
	assert_string_equal(got.refs[0].hex, HC);
	tlk_manifest_refs_free(&got);

	assert_int_equal(tlk_manifest_refs(buf, n + 8, &got), -EINVAL);
	assert_int_equal(got.count, 0);
	assert_int_equal(tlk_manifest_refs(buf, n - 1, &got), -EINVAL);
	assert_int_equal(got.count, 0);
	assert_int_equal(tlk_manifest_refs(buf, 0, &got), -EINVAL);
	assert_int_equal(got.count, 0);
	free(buf);
}

/* A failed parse leaves an empty result whatever `out` held, so the
 * caller may free it; free empties the result and may be repeated. */
static void test_result_after_failure_and_free(void **state)
{
	static const char good[] = "{\"layers\":[{\"digest\":\"sha256:" L1
				   "\"},{\"digest\":\"sha256:" L2 "\"}]}";
	static const char dup[] = "{\"a\":1,\"a\":2}";
	struct tlk_manifest_refs got;

	(void)state;
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(tlk_manifest_refs(dup, sizeof(dup) - 1, &got),
			 -EINVAL);
	assert_null(got.refs);
	assert_int_equal(got.count, 0);
	tlk_manifest_refs_free(&got);

	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(tlk_manifest_refs(good, sizeof(good) - 1, &got), 0);
	assert_int_equal(got.count, 2);
	assert_non_null(got.refs);
	assert_string_equal(got.refs[1].hex, L2);
	tlk_manifest_refs_free(&got);
	assert_null(got.refs);
	assert_int_equal(got.count, 0);
	tlk_manifest_refs_free(&got);
	assert_null(got.refs);

	/* the same result struct reused: nothing of the last parse stays */
	assert_int_equal(tlk_manifest_refs("{}", 2, &got), 0);
	assert_int_equal(got.count, 0);
	tlk_manifest_refs_free(&got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_manifest_table),
	    cmocka_unit_test(test_table_is_sound),
	    cmocka_unit_test(test_thousand_layers),
	    cmocka_unit_test(test_reads_only_len),
	    cmocka_unit_test(test_result_after_failure_and_free),
	};
	return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
