" editors/vim/syntax/ae.vim: the .ae language of aec (man aec-language).
" Kept in step with compiler/front/lexer.l and sema.c by tests/test_install.c.
if exists("b:current_syntax")
  finish
endif

syn keyword aeKeyword     model input range encoder decoder loss latent optimizer train schedule
syn keyword aeLayer       conv2d deconv2d linear flatten unflatten
syn keyword aeActivation  relu leaky_relu sigmoid tanh
syn keyword aeLoss        mse bce
syn keyword aeOptimizer   adam sgd
syn keyword aeLatent      gaussian
syn keyword aeSchedule    gemm direct winograd recompute keep split forward backward output
syn match   aeShape       "\<\d\+\(x\d\+\)\+\>"
syn match   aeNumber      "-\=\<\d\+\(\.\d*\)\=\([eE][-+]\=\d\+\)\=\>"
syn match   aeNumber      "-\=\.\d\+\([eE][-+]\=\d\+\)\="
syn match   aeKey         "\<\h\w*\ze\s*="
syn match   aeComment     "#.*$" contains=@Spell

hi def link aeKeyword     Keyword
hi def link aeLayer       Function
hi def link aeActivation  Type
hi def link aeLoss        Type
hi def link aeOptimizer   Type
hi def link aeLatent      Type
hi def link aeSchedule    PreProc
hi def link aeShape       Number
hi def link aeNumber      Number
hi def link aeKey         Identifier
hi def link aeComment     Comment

let b:current_syntax = "ae"
