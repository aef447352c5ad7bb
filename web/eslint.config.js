import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-results/', 'playwright-report/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[property.name='innerHTML']", message: 'Never innerHTML: render server text escaped.' },
        { selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']", message: 'Never dangerouslySetInnerHTML.' },
        {
          selector: "JSXAttribute[name.name='style'][value.type='Literal']",
          message: 'No style strings: the CSP forbids inline styles (an object is set through the CSSOM).',
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'localStorage', message: 'Never keep credentials in web storage.' },
        { name: 'sessionStorage', message: 'Never keep credentials in web storage.' },
        { name: 'parseFloat', message: 'Money is decimal strings: use lib/decimal.' },
      ],
    },
  },
  {
    files: ['eslint.config.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['vite.config.ts', 'dev/**', 'playwright.config.ts', 'e2e/**'],
    languageOptions: { globals: { ...globals.node } },
  },
);
