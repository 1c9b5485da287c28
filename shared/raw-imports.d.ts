/** Vite's ?raw imports, used by tests to load fixtures as text. */
declare module "*?raw" {
  const text: string;
  export default text;
}
