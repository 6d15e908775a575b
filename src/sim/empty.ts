/**
 * Empty typed arrays, the initial values of typed-array class fields that a constructor sizes.
 *
 * Why: with tsconfig's target ES2022 a class field is defined when the instance is created, before
 * the constructor body runs; declared without a value (`private xs: Float64Array`, or a constructor
 * parameter property) it is first defined as undefined. V8 then tracks the field as holding any
 * value, and optimized code checks the loaded array's map at every access (schedev, c598b18:
 * 7 % of the scheduler's instructions). Defined with an array of the kind it will keep, the
 * field's type is that array map for good, and the checks go. Never written: length 0.
 * Number fields likewise: declared without a value they are tracked as any tagged value rather than
 * a small integer or a double, so give them `= 0`.
 */
export const EMPTY_I32: Int32Array = new Int32Array(0)
export const EMPTY_U32: Uint32Array = new Uint32Array(0)
export const EMPTY_F64: Float64Array = new Float64Array(0)
export const EMPTY_U8: Uint8Array = new Uint8Array(0)
