// The types the generated dashboards are checked against: Grafana's own
// (@grafana/schema), with enums read as the string or number literals a
// dashboard's JSON holds. scripts/check_dashboard_schema.py writes one
// build/<dashboard>.ts per dashboard, each panel `satisfies` the type of its
// panel plugin (options and custom field config), the whole `satisfies`
// Dashboard: an unknown key, a misspelt option or a wrong type fails tsc.
import type {
  Dashboard,
  FieldConfig,
  FieldConfigSource,
  Panel,
  RowPanel,
  VariableModel,
} from '@grafana/schema';

// An enum's values as literals: `${BigValueColorMode}` is "value" | "background" | …
export type Json<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends Array<infer U>
      ? Array<Json<U>>
      : T extends object
        ? { [K in keyof T]: Json<T[K]> }
        : T;

// A panel of a plugin whose options are O and custom field config F; the
// options Grafana defaults may be left out (Partial).
export type TypedPanel<O, F> = Omit<Json<Panel>, 'options' | 'fieldConfig'> & {
  options?: Partial<Json<O>>;
  fieldConfig: Omit<Json<FieldConfigSource>, 'defaults'> & {
    defaults: Omit<Json<FieldConfig>, 'custom'> & { custom?: Partial<Json<F>> };
  };
};

export type Row = Json<RowPanel>;
export type Variable = Json<VariableModel>;
export type Board = Omit<Json<Dashboard>, 'panels' | 'templating'> & {
  panels: Array<unknown>;
  templating: { list: Variable[] };
};
export type NoCustom = Record<string, never>;
