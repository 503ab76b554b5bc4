/**
 * The backend conformance suite (to be filled in).
 *
 * @module
 */
export {};
