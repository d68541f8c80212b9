/**
 * Reads whole-number settings from the environment: unset gives the default;
 * anything but digits in [min, max] appends a problem naming the variable and
 * the range, and gives the default so parsing can go on and report the rest.
 */
export type WholeNumberReader = (name: string, fallback: number, min: number, max: number, unit: string) => number;

export function wholeNumberReader(read: (name: string) => string | undefined, problems: string[]): WholeNumberReader {
  return (name, fallback, min, max, unit) => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected whole ${unit} from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
}
