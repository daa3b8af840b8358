import assert from "node:assert/strict";
import { test } from "node:test";
import { cookiePairs } from "../../src/server/cookies.js";

test("every cookie pair is kept, duplicates and odd spellings included", () => {
  assert.deepEqual(cookiePairs("a=1; b=2;c=3"), [["a", "1"], ["b", "2"], ["c", "3"]]);
  assert.deepEqual(cookiePairs("id=1; id=2"), [["id", "1"], ["id", "2"]], "both pairs of one name");
  assert.deepEqual(cookiePairs('q="quoted value"'), [["q", "quoted value"]]);
  assert.deepEqual(cookiePairs("flag; x=a=b"), [["", "flag"], ["x", "a=b"]], "a bare value and an = inside a value");
  assert.deepEqual(cookiePairs(" ; ;"), [], "empty parts are nothing to inspect");
});
