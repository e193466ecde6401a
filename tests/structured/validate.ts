// Two independent JSON Schema validators (draft 2020-12): what every structured output must pass.
import { Validator } from '@cfworker/json-schema';
import Ajv2020 from 'ajv/dist/2020.js';

/** Validate with both validators; returns the errors (none: []). */
export function validate(schema: object, value: unknown): string[] {
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  const errors: string[] = [];
  if (!ajv.validate(schema, value)) errors.push(`ajv: ${ajv.errorsText()}`);
  const cf = new Validator(schema as never, '2020-12', false).validate(value);
  if (!cf.valid) errors.push(`cfworker: ${cf.errors.map((e) => `${e.instanceLocation} ${e.error}`).join('; ')}`);
  return errors;
}
