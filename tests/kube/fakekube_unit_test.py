"""Unit tests of the fake API server's pure parts: selectors, patches, the store's history."""
import unittest

from fakekube import defaults, patch, selectors, store
from fakekube.status import ApiError


class SelectorTest(unittest.TestCase):
    def match(self, text, labels):
        return selectors.matches(selectors.parse_label_selector(text), labels)

    def test_equality_and_set_based_requirements(self):
        labels = {"app": "web", "tier": "fe", "n": "5"}
        self.assertTrue(self.match("app=web,tier==fe", labels))
        self.assertFalse(self.match("app!=web", labels))
        self.assertTrue(self.match("app in (db, web),tier notin (be)", labels))
        self.assertTrue(self.match("app,!missing", labels))
        self.assertFalse(self.match("!app", labels))
        self.assertTrue(self.match("n>3,n<6", labels))
        self.assertTrue(self.match("", labels))

    def test_malformed_selector_is_a_400(self):
        for bad in ("app in web", "app in (web", "app ~ web"):
            with self.assertRaises(ApiError) as e:
                selectors.parse_label_selector(bad)
            self.assertEqual(e.exception.code, 400, bad)

    def test_label_selector_objects(self):
        sel = {"matchLabels": {"a": "1"},
               "matchExpressions": [{"key": "b", "operator": "NotIn", "values": ["x"]}]}
        self.assertTrue(selectors.label_selector_object_matches(sel, {"a": "1"}))
        self.assertFalse(selectors.label_selector_object_matches(sel, {"a": "1", "b": "x"}))
        self.assertTrue(selectors.label_selector_object_matches({}, {}))


class PatchTest(unittest.TestCase):
    def test_strategic_merge_keys_and_directives(self):
        pod = {"spec": {"containers": [
            {"name": "a", "image": "1", "ports": [{"containerPort": 80, "name": "h"}]},
            {"name": "b", "image": "1"}]}, "metadata": {"finalizers": ["x"]}}
        out = patch.strategic_merge_patch(pod, {
            "metadata": {"finalizers": ["y"]},
            "spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                     "containers": [{"name": "a", "ports": [{"containerPort": 81}]},
                                    {"name": "b", "$patch": "delete"}]}})
        self.assertEqual(out["metadata"]["finalizers"], ["x", "y"])
        self.assertEqual([c["name"] for c in out["spec"]["containers"]], ["a"])
        self.assertEqual([p["containerPort"] for p in out["spec"]["containers"][0]["ports"]],
                         [80, 81])

    def test_merge_patch_null_deletes(self):
        self.assertEqual(patch.merge_patch({"a": 1, "b": {"c": 2}}, {"a": None, "b": {"d": 3}}),
                         {"b": {"c": 2, "d": 3}})

    def test_json_patch_test_failure_is_422(self):
        with self.assertRaises(ApiError) as e:
            patch.json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
        self.assertEqual(e.exception.code, 422)


def _obj(name, rv):
    return {"metadata": {"name": name, "namespace": "n", "resourceVersion": str(rv)}}


class DefaultsTest(unittest.TestCase):
    def test_secret_string_data_is_merged_into_data_and_not_stored(self):
        obj = {"metadata": {"name": "s"}, "data": {"a": "eA==", "b": "eQ=="},
               "stringData": {"b": "new", "c": "{\"k\":1}"}}
        defaults.secret(obj, None)
        self.assertNotIn("stringData", obj)
        self.assertEqual(obj["type"], "Opaque")
        self.assertEqual(obj["data"], {"a": "eA==", "b": "bmV3", "c": "eyJrIjoxfQ=="})


class StoreTest(unittest.TestCase):
    def put(self, s, name, kind="ADDED"):
        with s.lock:
            rv = s.next_rv()
            return s.commit("/x", f"n/{name}", _obj(name, rv), {}, kind)

    def test_history_window_bounds_watch_resumption(self):
        s = store.Store(history_size=2, initial_rv=10)
        self.put(s, "a")
        self.put(s, "b")
        self.put(s, "c")   # evicts the event at rv 11
        with self.assertRaises(ApiError) as e:
            s.watch("/x", store.Filter(), 10)
        self.assertEqual((e.exception.code, e.exception.message),
                         (410, "too old resource version: 10 (11)"))
        w = s.watch("/x", store.Filter(), 11)
        self.assertEqual([w.get(0)[1].name for _ in range(2)], ["b", "c"])

    def test_snapshot_reconstructs_a_past_state(self):
        s = store.Store(initial_rv=10)
        self.put(s, "a")
        self.put(s, "b")
        self.put(s, "a", "MODIFIED")
        rv, entries = s.snapshot("/x", 11)
        self.assertEqual([(e.name, e.rv) for e in entries], [("a", 11)])

    def test_continue_tokens_round_trip(self):
        token = store.encode_continue(42, "n/a\x00")
        self.assertEqual(store.decode_continue(token), (42, "n/a\x00"))
        with self.assertRaises(ApiError):
            store.decode_continue("!!")


if __name__ == "__main__":
    unittest.main(verbosity=2)
