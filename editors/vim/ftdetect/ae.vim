" editors/vim/ftdetect/ae.vim: .ae files are aec models.
autocmd BufRead,BufNewFile *.ae setfiletype ae
