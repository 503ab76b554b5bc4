// The conformance suite on the reference backend: its contract (poisoned frees, refused aliasing and
// foreign tensors) is the strictest; its values are checked against finite differences and hand
// examples in reference_test.ts.
import { ReferenceBackend } from "./reference.ts";
import { conformanceSuite } from "./conformance.ts";

conformanceSuite("reference", () => new ReferenceBackend());
